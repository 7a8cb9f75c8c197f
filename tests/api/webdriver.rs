//! A small WebDriver client (the W3C JSON protocol over the `ureq` the tests already use) for
//! driving Debian's headless Chromium through `chromedriver`. Only what the admin-page test
//! needs: open, find, click, type, read, screenshot, cookies, run a script.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

/// The key W3C WebDriver names element references with.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long `wait_for` waits for the page before failing the test.
const PATIENCE: Duration = Duration::from_secs(20);

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

/// Where the browser and its driver are: `CHROMIUM` and `CHROMEDRIVER`, else Debian's paths.
pub fn binaries() -> (String, String) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    (chromium, driver)
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session through it.
    pub fn start() -> Result<Browser, String> {
        let (chromium, driver_path) = binaries();
        for path in [&chromium, &driver_path] {
            if !std::path::Path::new(path).exists() {
                return Err(format!("{path} is missing"));
            }
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {driver_path}: {e}"))?;
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            _profile: profile,
        };
        let started = Instant::now();
        while ureq::get(&format!("{}/status", browser.base))
            .call()
            .is_err()
        {
            if started.elapsed() > PATIENCE {
                return Err("chromedriver did not answer".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile_arg = format!("--user-data-dir={}", browser._profile.path().display());
        let downloads = browser.downloads();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900",
                         "--no-first-run", profile_arg],
                // A download lands here without asking (`downloads`).
                "prefs": {"download.default_directory": downloads.display().to_string(),
                          "download.prompt_for_download": false},
            },
        }}});
        let answer = browser.call("POST", "/session", Some(caps))?;
        browser.session = answer["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {answer}"))?
            .to_string();
        Ok(browser)
    }

    /// Where the browser saves what the page downloads.
    pub fn downloads(&self) -> std::path::PathBuf {
        self._profile.path().join("downloads")
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{}", self.base, path);
        let request = ureq::request(method, &url).timeout(Duration::from_secs(60));
        let result = match body {
            Some(b) => request.send_json(b),
            None => request.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(format!("{method} {path}: {e}")),
        };
        let status = response.status();
        let body: Value = response.into_json().map_err(|e| e.to_string())?;
        if status >= 400 {
            return Err(format!("{method} {path}: {status} {}", body["value"]));
        }
        Ok(body["value"].clone())
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{}", self.session, path);
        self.call(method, &path, body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A call about an element found a moment ago: None when the page has replaced it since
    /// (a re-render between finding it and asking), so that a waiting check looks again.
    fn element_call(&self, method: &str, path: &str) -> Option<Value> {
        let path = format!("/session/{}{}", self.session, path);
        match self.call(method, &path, None) {
            Ok(v) => Some(v),
            Err(e) if e.contains("stale element reference") => None,
            Err(e) => panic!("{e}"),
        }
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// The first element matching `css`, if there is one now.
    pub fn find(&self, css: &str) -> Option<String> {
        let path = format!("/session/{}/elements", self.session);
        let found = self
            .call(
                "POST",
                &path,
                Some(json!({"using": "css selector", "value": css})),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        found
            .as_array()?
            .first()
            .and_then(|e| e[ELEMENT].as_str())
            .map(str::to_string)
    }

    /// Waits until `check` says yes, failing with `what` when the page never gets there.
    pub fn wait_for<T>(&self, what: &str, mut check: impl FnMut(&Browser) -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            if started.elapsed() > PATIENCE {
                let text = self.text("body").unwrap_or_default();
                panic!("the page never showed {what}; it shows:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for an element matching `css` that is displayed.
    pub fn element(&self, css: &str) -> String {
        self.wait_for(css, |b| {
            let e = b.find(css)?;
            let shown = b.element_call("GET", &format!("/element/{e}/displayed"))?;
            (shown == json!(true)).then_some(e)
        })
    }

    /// Fills in the sign-in form of the admin page or the clinic's app, and sends it.
    pub fn sign_in(&self, username: &str, password: &str) {
        self.type_into("#signin-username", username);
        self.type_into("#signin-password", password);
        self.click("#signin-submit");
    }

    /// Clicks the displayed element matching `css`; when the page re-rendered it between the
    /// finding and the click (a live update), finds it again.
    pub fn click(&self, css: &str) {
        self.wait_for(css, |b| {
            let e = b.element(css);
            let path = format!("/session/{}/element/{e}/click", b.session);
            match b.call("POST", &path, Some(json!({}))) {
                Ok(_) => Some(()),
                Err(e) if e.contains("stale element reference") => None,
                Err(e) => panic!("{e}"),
            }
        })
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css);
        self.session_call("POST", &format!("/element/{e}/clear"), Some(json!({})));
        self.session_call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Puts the file at `path` in the file input matching `css` (which may be invisible, as a
    /// styled picker's input is).
    pub fn attach_file(&self, css: &str, path: &std::path::Path) {
        let e = self.wait_for(css, |b| b.find(css));
        self.session_call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": path.display().to_string() })),
        );
    }

    /// The visible text of the first element matching `css`, if there is one. A live page may
    /// redraw the element between finding and reading it (a stale reference): that is "none
    /// yet", so that `wait_for` looks again instead of failing the test.
    pub fn text(&self, css: &str) -> Option<String> {
        let e = self.find(css)?;
        self.element_call("GET", &format!("/element/{e}/text"))?
            .as_str()
            .map(str::to_string)
    }

    /// Resizes the window (a phone's width, say).
    pub fn set_window_size(&self, width: u32, height: u32) {
        self.session_call(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }

    pub fn screenshot(&self, file: &std::path::Path) {
        let data = self.session_call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).expect("artifact directory");
        }
        std::fs::write(file, png).expect("screenshot written");
    }

    /// A cookie's value as the browser holds it (HttpOnly ones too).
    pub fn cookie(&self, name: &str) -> Option<String> {
        let path = format!("/session/{}/cookie/{name}", self.session);
        let c = self.call("GET", &path, None).ok()?;
        c["value"].as_str().map(str::to_string)
    }

    /// Runs `script` in the page (a returned promise is awaited) and gives back its value.
    pub fn run(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Presses `keys` one after another on whatever has the keyboard focus, as a user at a
    /// keyboard does (WebDriver key actions; `\u{E004}` is Tab, `\u{E007}` Enter).
    pub fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|k| {
                let k = k.to_string();
                [
                    json!({"type": "keyDown", "value": k}),
                    json!({"type": "keyUp", "value": k}),
                ]
            })
            .collect();
        self.session_call(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// Runs `script` as an asynchronous script: it ends by calling its last argument (the
    /// callback) with the value to return.
    pub fn run_async(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
