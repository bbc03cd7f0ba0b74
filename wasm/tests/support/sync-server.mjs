// Starts the real relay binary (sync-server) for browser tests: a free port, a database in a
// fresh temporary folder, and `--static` serving the example pages (examples/web, whose `pkg`
// links to wasm/pkg/web). The binary is $CRDT_RELAY_BIN, or target/debug/sync-server of the
// workspace (wasm/test.sh builds it). `stop()` ends it with SIGTERM (a graceful shutdown);
// `restart()` starts it again on the same port and database, as after a crash or an upgrade.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const root = new URL("../../../", import.meta.url).pathname;

/** The relay binary to run. */
export function relayBinary() {
  const bin = process.env.CRDT_RELAY_BIN ?? join(root, "target/debug/sync-server");
  if (!existsSync(bin)) {
    throw new Error(`no relay binary at ${bin}: run \`cargo build -p sync-server\` or set CRDT_RELAY_BIN`);
  }
  return bin;
}

/** The terminal peer (examples' `cli`, whose `--p2p` joins the direct mesh): $CRDT_CLI_BIN or the workspace's. */
export function cliBinary() {
  const bin = process.env.CRDT_CLI_BIN ?? join(root, "target/debug/cli");
  if (!existsSync(bin)) {
    throw new Error(`no cli binary at ${bin}: run \`cargo build -p examples --bin cli\` or set CRDT_CLI_BIN`);
  }
  return bin;
}

export class SyncServer {
  constructor(staticDir, args) {
    this.staticDir = staticDir;
    this.args = args;
    this.dir = mkdtempSync(join(tmpdir(), "crdt-relay-"));
    this.database = join(this.dir, "relay.db");
    this.child = null;
    this.bind = "127.0.0.1:0";
  }

  /** Starts a relay serving `staticDir` (default: the example pages), with more flags `args`. */
  static async start(staticDir = join(root, "examples/web"), args = []) {
    const server = new SyncServer(staticDir, args);
    await server.restart();
    return server;
  }

  /** http://127.0.0.1:PORT/ */
  get httpUrl() {
    return `http://${this.address}/`;
  }

  /** ws://127.0.0.1:PORT/sync */
  get wsUrl() {
    return `ws://${this.address}/sync`;
  }

  /** Starts the binary (again, on the same address and database) and waits for its address line. */
  async restart() {
    if (this.child) throw new Error("the relay is running");
    const args = ["--bind", this.bind, "--database", this.database, "--static", this.staticDir, ...this.args];
    const child = spawn(relayBinary(), args, {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
    });
    this.child = child;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    this.exited = exited;
    const lines = createInterface({ input: child.stdout });
    const address = await new Promise((resolve, reject) => {
      lines.once("line", (line) => {
        const match = /^listening on (\S+)$/.exec(line.trim());
        if (match) resolve(match[1]);
        else reject(new Error(`unexpected first line from the relay: ${line}`));
      });
      exited.then((code) => reject(new Error(`the relay exited with ${code} before listening`)));
    });
    this.address = address;
    this.bind = address; // a restart reuses the port, so pages reconnect to the same URL
  }

  /** Stops the relay gracefully (SIGTERM) and waits for it to exit. */
  async stop() {
    if (!this.child) return;
    this.child.kill("SIGTERM");
    await this.exited;
    this.child = null;
  }

  /** Stops the relay and deletes its database. */
  async close() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
