//! [`StaticFiles`]: the files of `--static DIR`, minus what must never leave the machine.
//!
//! Invariant: a request is served only if no segment of its decoded path starts with `.` (so no
//! `.git/`, `.env` or `..`, however percent-encoded), and the file it resolves to (symbolic links
//! followed, a directory's `index.html` included) is not the relay's own SQLite database nor its
//! `-wal`, `-shm` or `-journal` file; anything else refused gets the 404 a missing file gets, so
//! a visitor cannot tell a hidden file from an absent one. Paths are compared canonicalized, so
//! `--static .` next to `--database ./sync-server.db` does not publish every document. The files
//! themselves are served by tower-http's `ServeDir` (its MIME types: `text/javascript` for `.js`,
//! `application/wasm` for `.wasm`, which `WebAssembly.instantiateStreaming` requires).
//!
//! Every file goes out with `Cache-Control: no-cache`: the browser may keep a copy but asks the
//! relay again before using it (a cheap 304 through `Last-Modified` when nothing changed).
//! Without it, browsers guess a freshness from the file's age and may run yesterday's page or
//! wasm for a while after the relay serves a new build; and a service worker's update check,
//! which compares its script byte for byte, could read an old imported script from that cache
//! and miss the new build (see `examples/web/sw.js`).

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

/// Every static file's `Cache-Control`: cache, but revalidate before each use.
const CACHE_CONTROL: &str = "no-cache";

/// The suffixes SQLite adds to a database's name for its companion files.
const DATABASE_COMPANIONS: [&str; 4] = ["", "-wal", "-shm", "-journal"];

/// The files of one directory, served over HTTP; see the [module docs](self).
#[derive(Clone, Debug)]
pub(crate) struct StaticFiles {
    dir: PathBuf,
    /// Canonical paths of the database and its companion files, which may not exist yet.
    hidden: Vec<PathBuf>,
}

impl StaticFiles {
    /// Serves `dir`, never the SQLite database at `database` (when documents are stored in one).
    pub(crate) fn new(dir: &Path, database: Option<&Path>) -> std::io::Result<StaticFiles> {
        let hidden = match database {
            Some(database) => database_files(database)?,
            None => Vec::new(),
        };
        Ok(StaticFiles {
            dir: dir.to_owned(),
            hidden,
        })
    }

    /// Answers `request` with its file, or 404.
    pub(crate) async fn serve(&self, request: Request) -> Response {
        if !self.may_serve(request.uri().path()).await {
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        }
        match ServeDir::new(&self.dir).oneshot(request).await {
            Ok(mut response) => {
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(CACHE_CONTROL),
                );
                response.map(Body::new)
            }
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
        }
    }

    /// Whether the file at URL path `path` may be served.
    async fn may_serve(&self, path: &str) -> bool {
        let Some(relative) = visible_path(path) else {
            return false;
        };
        let candidate = self.dir.join(relative);
        let Ok(mut resolved) = tokio::fs::canonicalize(&candidate).await else {
            // Missing: ServeDir answers 404 itself.
            return true;
        };
        let is_dir = tokio::fs::metadata(&resolved)
            .await
            .is_ok_and(|m| m.is_dir());
        if is_dir {
            // ServeDir serves a directory's index.html.
            resolved = match tokio::fs::canonicalize(resolved.join("index.html")).await {
                Ok(index) => index,
                Err(_) => return true,
            };
        }
        !self.hidden.contains(&resolved)
    }
}

/// The relative file path a URL path names, decoded as `ServeDir` decodes it; `None` when a
/// segment starts with `.` or the path is not UTF-8.
fn visible_path(path: &str) -> Option<PathBuf> {
    let decoded = percent_decode_str(path).decode_utf8().ok()?;
    let mut relative = PathBuf::new();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        if segment.starts_with('.') || segment.contains('\\') || segment.contains('\0') {
            return None;
        }
        relative.push(segment);
    }
    Some(relative)
}

/// Canonical paths of the database at `path` and its companions: both where SQLite names them
/// after the path as given (in its canonical directory) and after the file a symbolic link
/// points to.
fn database_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{} names no file", path.display())))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut bases = vec![std::fs::canonicalize(parent)?.join(name)];
    if let Ok(target) = std::fs::canonicalize(path) {
        bases.push(target);
    }
    Ok(bases
        .iter()
        .flat_map(|base| {
            DATABASE_COMPANIONS.iter().map(move |suffix| {
                let mut name = base.as_os_str().to_owned();
                name.push(suffix);
                PathBuf::from(name)
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_refused_however_encoded() {
        for hidden in [
            "/.env",
            "/.git/config",
            "/a/.hidden/b",
            "/%2egit/config",
            "/%2Eenv",
            "/a/%2e%2e/b",
            "/..",
            "/a/%5c..%5cb",
            "/%ff",
        ] {
            assert_eq!(visible_path(hidden), None, "{hidden}");
        }
        assert_eq!(visible_path("/"), Some(PathBuf::new()));
        assert_eq!(
            visible_path("/editor/index.html"),
            Some(PathBuf::from("editor/index.html"))
        );
        assert_eq!(visible_path("/a%20b/c.js"), Some(PathBuf::from("a b/c.js")));
    }

    /// The response of `files` to a GET of `path` with `headers`.
    async fn get(
        files: &StaticFiles,
        path: &str,
        headers: &[(header::HeaderName, &str)],
    ) -> Response {
        let mut request = Request::builder().uri(path);
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        files.serve(request.body(Body::empty()).unwrap()).await
    }

    #[tokio::test]
    async fn a_service_worker_and_wasm_are_served_with_their_types_and_revalidated() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sw.js"), b"importScripts('sw-build.js');").unwrap();
        std::fs::write(dir.path().join("m.wasm"), b"\0asm\x01\0\0\0").unwrap();
        std::fs::write(dir.path().join("index.html"), b"<p>hi</p>").unwrap();
        let files = StaticFiles::new(dir.path(), None).unwrap();
        for (path, mime) in [
            ("/sw.js", "text/javascript"),
            ("/m.wasm", "application/wasm"),
            ("/", "text/html"),
        ] {
            let response = get(&files, path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let headers = response.headers();
            assert!(
                headers[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with(mime),
                "{path}"
            );
            assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{path}");
            // The browser's re-check: unchanged since its copy, a 304 that keeps the rule.
            let modified = headers[header::LAST_MODIFIED].to_str().unwrap().to_owned();
            let again = get(&files, path, &[(header::IF_MODIFIED_SINCE, &modified)]).await;
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
            assert_eq!(again.headers()[header::CACHE_CONTROL], "no-cache", "{path}");
        }
    }

    #[tokio::test]
    async fn the_database_and_its_companions_are_refused_also_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("relay.db");
        std::fs::write(&db, b"SQLite format 3").unwrap();
        std::fs::write(dir.path().join("page.html"), b"<p>hi</p>").unwrap();
        let files = StaticFiles::new(dir.path(), Some(&db)).unwrap();
        assert!(files.may_serve("/page.html").await);
        assert!(!files.may_serve("/relay.db").await);
        // Companions that do not exist yet are refused once they do.
        for companion in ["relay.db-wal", "relay.db-shm", "relay.db-journal"] {
            std::fs::write(dir.path().join(companion), b"x").unwrap();
            assert!(
                !files.may_serve(&format!("/{companion}")).await,
                "{companion}"
            );
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&db, dir.path().join("innocent.txt")).unwrap();
            assert!(!files.may_serve("/innocent.txt").await);
        }
        assert!(files.may_serve("/missing.html").await, "ServeDir says 404");
        let elsewhere = StaticFiles::new(dir.path(), None).unwrap();
        assert!(
            elsewhere.may_serve("/relay.db").await,
            "no database to hide"
        );
    }
}
