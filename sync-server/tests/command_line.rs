//! The `sync-server` binary's command line, as a user meets it.

use std::process::Command;

#[test]
fn help_reads_like_a_tools_help_and_lists_the_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .arg("--help")
        .output()
        .expect("the binary runs");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).expect("UTF-8 help");
    assert!(help.starts_with("WebSocket relay"), "{help}");
    assert!(
        !help.contains("```") && !help.contains("use sync_server"),
        "a doc comment leaked into --help:\n{help}"
    );
    for flag in [
        "--bind",
        "--database",
        "--memory",
        "--redis",
        "--sqlite-synchronous",
        "--auth-secret",
        "--allow-anonymous",
        "--static",
        "--allowed-origin",
        "--max-frame-bytes",
        "--rate-per-sec",
        "--outbound-queue",
        "--unload-idle-secs",
        "--storage-retry-secs",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
}
