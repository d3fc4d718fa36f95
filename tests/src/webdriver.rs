//! A minimal W3C WebDriver client for the console's end-to-end tests:
//! Debian's `chromedriver` driving headless `chromium` on 127.0.0.1, over
//! the tests' HTTP client (reqwest, blocking).

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver with one headless Chromium session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    profile: std::path::PathBuf,
}

fn call(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = client.request(method, format!("http://127.0.0.1:{port}{path}"));
    if let Some(body) = body {
        req = req.header("Content-Type", "application/json").body(body.to_string());
    }
    let text = req.send().and_then(|r| r.text()).map_err(|e| format!("chromedriver: {e}"))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{e}: {}", text.chars().take(200).collect::<String>()))?;
    if let Some(err) = v["value"]["error"].as_str() {
        return Err(format!("{err}: {}", v["value"]["message"].as_str().unwrap_or_default()));
    }
    Ok(v["value"].clone())
}

impl Browser {
    /// Starts chromedriver and a headless session; `None` when the machine
    /// has no chromedriver (the caller decides whether that is a failure).
    pub fn start() -> Option<Self> {
        let driver_bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        for _ in 0..100 {
            if call(port, "GET", "/status", None).is_ok_and(|v| v["ready"] == true) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = std::env::temp_dir().join(format!("enlist-chromium-{}-{port}", std::process::id()));
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,900", format!("--user-data-dir={}", profile.display())]}}}});
        let session = call(port, "POST", "/session", Some(&caps)).ok()?["sessionId"].as_str()?.to_owned();
        // A click that submits a form may return before the next page has
        // loaded: finding an element waits for it (up to 10 s) instead of
        // reading the old page (seen once in CI after "Generate API key").
        let wait = json!({"implicit": 10_000});
        call(port, "POST", &format!("/session/{session}/timeouts"), Some(&wait)).ok()?;
        Some(Self { driver, port, session, profile })
    }

    fn at(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    /// Opens a URL.
    pub fn go(&self, url: &str) {
        call(self.port, "POST", &self.at("/url"), Some(&json!({"url": url}))).unwrap();
    }

    /// The page's HTML.
    pub fn source(&self) -> String {
        call(self.port, "GET", &self.at("/source"), None).unwrap().as_str().unwrap_or_default().to_owned()
    }

    fn find(&self, css: &str) -> String {
        let v = call(self.port, "POST", &self.at("/element"), Some(&json!({"using": "css selector", "value": css})))
            .unwrap_or_else(|e| panic!("no element {css}: {e}\n{}", self.source()));
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    /// Types into the element `css`.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        call(self.port, "POST", &self.at(&format!("/element/{id}/value")), Some(&json!({"text": text}))).unwrap();
    }

    /// Clicks the element `css`.
    pub fn click(&self, css: &str) {
        let id = self.find(css);
        call(self.port, "POST", &self.at(&format!("/element/{id}/click")), Some(&json!({}))).unwrap();
    }

    /// The visible text of the element `css`.
    pub fn text(&self, css: &str) -> String {
        let id = self.find(css);
        call(self.port, "GET", &self.at(&format!("/element/{id}/text")), None)
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The value of the cookie `name`, if the browser holds it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        call(self.port, "GET", &self.at(&format!("/cookie/{name}")), None).ok()?["value"].as_str().map(str::to_owned)
    }

    /// Whether the page shows `text` within 10 s (a submitted form's next
    /// page may still be loading).
    pub fn shows(&self, text: &str) -> bool {
        for _ in 0..100 {
            if self.source().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Accepts a `confirm()` dialog.
    pub fn accept_dialog(&self) {
        for _ in 0..50 {
            if call(self.port, "POST", &self.at("/alert/accept"), Some(&json!({}))).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no dialog to accept");
    }

    /// Runs `script` in the page (WebDriver's script execution is not
    /// held to the page's Content-Security-Policy); its return value.
    pub fn execute(&self, script: &str) -> Value {
        call(self.port, "POST", &self.at("/execute/sync"), Some(&json!({"script": script, "args": []}))).unwrap()
    }

    /// Runs axe-core (`axe_source`: the text of `axe.min.js`) on the page
    /// against WCAG 2.1 A and AA and best practices; each serious or
    /// critical violation as "rule (impact): help [at most three targets]".
    pub fn accessibility_violations(&self, axe_source: &str) -> Vec<String> {
        if self.execute("return typeof axe").as_str() != Some("object") {
            self.execute(&format!("{axe_source}\nreturn true;"));
        }
        let run = "var done = arguments[arguments.length - 1];\
            axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})\
            .then(function (r) { done(r.violations.filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; })\
              .map(function (v) { return v.id + ' (' + v.impact + '): ' + v.help + ' ' + JSON.stringify(v.nodes.slice(0, 3).map(function (n) { return n.target.join(' '); })); })); })\
            .catch(function (e) { done(['axe failed: ' + e]); });";
        let v = call(self.port, "POST", &self.at("/execute/async"), Some(&json!({"script": run, "args": []}))).unwrap();
        v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default()
    }

    /// Sets the window's size (a phone: 390 × 844).
    pub fn resize(&self, width: u32, height: u32) {
        call(self.port, "POST", &self.at("/window/rect"), Some(&json!({"width": width, "height": height}))).unwrap();
    }

    /// Saves a PNG screenshot of the page to `path`.
    pub fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let b64 = call(self.port, "GET", &self.at("/screenshot"), None).unwrap();
        let png = base64::engine::general_purpose::STANDARD.decode(b64.as_str().unwrap_or_default()).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = call(self.port, "DELETE", &self.at(""), None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
