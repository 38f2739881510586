//! End-to-end: the real desktop app, driven through its real webview.
//!
//! Starts its own Xvfb display, `tauri-driver` (which runs WebKitWebDriver)
//! on free loopback ports, and the app on a fresh ledger in a temporary
//! folder. A clerk receives an item, issues part of it, and reads the right
//! quantity off the stock screen; a keyboard-wedge scanner types GS1 barcodes
//! into the receive screen with the focus away from the item field; a manager
//! counts a stocktake with the scanner (a typed quantity, an undo), reviews and
//! posts it, and the stock screen shows the count; a Modbus thermometer
//! (pymodbus on a pty) reads a warm fridge: the alarm shows, the fridge's
//! stock is quarantined and its issue refused, and once it is cold again a
//! manager releases it; screenshots go to `artifacts/`. Run with `make e2e`
//! (needs xvfb, webkit2gtk-driver, tauri-driver and the Python venv).

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use ledger::{DocumentKind, DocumentRequest, Lang, LineRequest, LocationKind, NewItem, NewLocation, NewUser, Role};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ITEM: &str = "09506000134352";
const WAIT: Duration = Duration::from_secs(30);
/// Longest any single WebDriver command may take before the test fails naming it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(45);

/// Runs one WebDriver step with a deadline, so a hung driver fails the test
/// with the step's name instead of stalling CI.
async fn step<T, E: std::fmt::Debug>(name: &str, future: impl std::future::Future<Output = Result<T, E>>) -> T {
    eprintln!("e2e: {name}");
    match tokio::time::timeout(COMMAND_TIMEOUT, future).await {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => panic!("{name}: {error:?}"),
        Err(_) => panic!("{name}: no answer from the WebDriver within {COMMAND_TIMEOUT:?}"),
    }
}

/// Kills a child process, and everything it started, when the test ends,
/// however it ends: children are spawned as leaders of their own process
/// group (tauri-driver starts WebKitWebDriver, which starts the app).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A command that will lead its own process group.
fn grouped(program: impl AsRef<std::ffi::OsStr>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(program);
    command.process_group(0);
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Xvfb on the first free display it finds (it reports the number on a pipe).
fn start_xvfb() -> (Reaped, String) {
    let mut child = grouped("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1280x900x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb is installed (make test-deps)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let display = format!(":{}", line.trim());
    (Reaped(child), display)
}

fn tauri_driver() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let installed = home.join(".cargo/bin/tauri-driver");
    if installed.exists() {
        installed
    } else {
        PathBuf::from("tauri-driver")
    }
}

/// A ledger with the master data the clerk needs (no stock yet).
fn prepare_ledger(path: &Path) {
    let mut ledger = ledger::Ledger::open(path).unwrap();
    ledger.init("E2E", "end-to-end").unwrap();
    ledger
        .add_location(&NewLocation {
            code: "MAIN".into(),
            name: "中心库".into(),
            name_en: "Central storeroom".into(),
            kind: LocationKind::Storeroom,
            department: None,
            min_temp_c: None,
            max_temp_c: None,
        })
        .unwrap();
    ledger.add_department("ICU", "重症医学科", "Intensive Care Unit", "CC-101", None).unwrap();
    ledger.add_supplier("SUP01", "上海康衡医疗器械有限公司", "Shanghai Kangheng Medical", "").unwrap();
    ledger
        .add_user(&NewUser {
            username: "wangli".into(),
            display_name: "王丽".into(),
            role: Role::Clerk,
            language: Lang::Zh,
        })
        .unwrap();
    ledger
        .add_item(&NewItem {
            code: ITEM.into(),
            name: "一次性使用无菌注射器".into(),
            name_en: "Sterile single-use syringe 5 ml".into(),
            unit: "支".into(),
            pack_size: 100,
            ..NewItem::default()
        })
        .unwrap();
}

async fn element(client: &Client, css: &str) -> fantoccini::elements::Element {
    step(&format!("find {css}"), client.wait().at_most(WAIT).for_element(Locator::Css(css))).await
}

async fn click(client: &Client, css: &str) {
    let target = element(client, css).await;
    step(&format!("click {css}"), target.click()).await;
}

async fn select(client: &Client, css: &str, value: &str) {
    let target = element(client, css).await;
    step(&format!("select {value} in {css}"), target.select_by_value(value)).await;
}

async fn type_into(client: &Client, css: &str, text: &str) {
    let field = element(client, css).await;
    step(&format!("clear {css}"), field.clear()).await;
    step(&format!("type into {css}"), field.send_keys(text)).await;
}

/// Waits until the element's text contains `needle`, returning the text.
async fn text_containing(client: &Client, css: &str, needle: &str) -> String {
    let started = Instant::now();
    loop {
        if let Ok(Ok(found)) = tokio::time::timeout(COMMAND_TIMEOUT, client.find(Locator::Css(css))).await {
            if let Ok(Ok(text)) = tokio::time::timeout(COMMAND_TIMEOUT, found.text()).await {
                if text.contains(needle) {
                    return text;
                }
            }
        }
        if started.elapsed() > WAIT {
            let banner = match client.find(Locator::Css("[data-testid=error-banner]")).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            panic!("{css} never contained {needle:?} (error banner: {banner:?})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// WebKitGTK (without compositing) answers a WebDriver screenshot after the
/// page's next repaint, and a page at rest — no caret blinking, nothing
/// moving — may not repaint at all: a one-pixel mark in a corner changes its
/// colour for a few seconds so that it does.
const KEEP_PAINTING: &str = "const m = document.createElement('div'); \
    m.style.cssText = 'position:fixed;left:0;bottom:0;width:1px;height:1px;pointer-events:none;z-index:99'; \
    document.body.appendChild(m); let n = 0; \
    const tick = () => { m.style.background = n % 2 ? 'rgba(0,0,0,0.02)' : 'rgba(0,0,0,0.03)'; \
    if (++n < 60) setTimeout(tick, 50); else m.remove(); }; tick();";

async fn save_screenshot(client: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    step("keep the page painting", client.execute(KEEP_PAINTING, vec![])).await;
    let png = step("screenshot", client.screenshot()).await;
    std::fs::write(dir.join(name), png).unwrap();
}

/// The stock screen's quantity for the item's rows at MAIN, once it equals `expected` (or the last seen).
async fn stock_quantity(client: &Client, expected: i64) -> i64 {
    let started = Instant::now();
    loop {
        let mut total = 0;
        for row in step("list stock rows", client.find_all(Locator::Css("[data-testid=stock-row]"))).await {
            if step("row code", row.attr("data-code")).await.as_deref() == Some(ITEM)
                && step("row location", row.attr("data-location")).await.as_deref() == Some("MAIN")
            {
                total +=
                    step("row quantity", row.attr("data-quantity")).await.unwrap_or_default().parse::<i64>().unwrap();
            }
        }
        if total == expected || started.elapsed() > WAIT {
            return total;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The app on its own display, driven through tauri-driver; everything it
/// started goes away with it.
struct Session {
    client: Client,
    _driver: Reaped,
    _xvfb: Reaped,
}

impl Session {
    /// Starts Xvfb, tauri-driver and the app on the ledger at `db` (Chinese locale).
    async fn start(db: &Path) -> Session {
        Session::start_with(db, &[]).await
    }

    /// As `start`, with more environment for the app (it inherits tauri-driver's).
    async fn start_with(db: &Path, env: &[(&str, &str)]) -> Session {
        let app = PathBuf::from(env!("CARGO_BIN_EXE_medledger-app"));
        let (_xvfb, display) = start_xvfb();
        let port = free_port();
        let native_port = free_port();
        let _driver = Reaped(
            grouped(tauri_driver())
                .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
                .env("DISPLAY", &display)
                .env("MEDLEDGER_DB", db)
                .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
                .env("LANG", "zh_CN.UTF-8")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("tauri-driver is installed (make test-deps)"),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), "wry".into());
        capabilities.insert("tauri:options".into(), serde_json::json!({ "application": app }));
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::native().capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(e) if started.elapsed() < WAIT => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => panic!("could not start a session through tauri-driver: {e}"),
            }
        };
        Session { client, _driver, _xvfb }
    }

    async fn close(self) {
        step("close the session", self.client.close()).await;
    }
}

/// A field's current value (the DOM property, not the attribute).
async fn value_of(client: &Client, css: &str) -> String {
    let field = element(client, css).await;
    step(&format!("value of {css}"), field.prop("value")).await.unwrap_or_default()
}

/// Waits until the field holds `expected`, returning what it last held.
async fn value_becomes(client: &Client, css: &str, expected: &str) -> String {
    let started = Instant::now();
    loop {
        let value = value_of(client, css).await;
        if value == expected || started.elapsed() > WAIT {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The tag name (and test id) of the element that has the focus.
async fn focused(client: &Client) -> String {
    let script = "const e = document.activeElement; return e ? e.tagName + (e.dataset.testid ? '#' + e.dataset.testid : '') : '';";
    let found = step("which element has the focus", client.execute(script, vec![])).await;
    found.as_str().unwrap_or_default().to_string()
}

/// What a keyboard-wedge scanner does: press and release each key as fast as
/// WebDriver can, wherever the focus is (no element is targeted), with GS as
/// Ctrl+], and Enter at the end. Returns the largest gap between two keydowns
/// the page saw (ms) and the keys around it, to explain a scan that was not
/// recognised.
async fn wedge_scan(client: &Client, data: &str) -> (f64, String) {
    let record = "window.__keys = []; if (!window.__keyRecorder) { window.__keyRecorder = true; \
        window.addEventListener('keydown', (e) => window.__keys.push([e.key, e.timeStamp]), true); }";
    step("record key times", client.execute(record, vec![])).await;
    let mut keys = KeyActions::new("scanner".into());
    let press =
        |keys: KeyActions, key: char| keys.then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
    for c in data.chars() {
        keys = if c == '\u{1d}' {
            let control: char = Key::Control.into();
            press(keys.then(KeyAction::Down { value: control }), ']').then(KeyAction::Up { value: control })
        } else {
            press(keys, c)
        };
    }
    keys = press(keys, Key::Enter.into());
    step(&format!("scan {data:?}"), client.perform_actions(keys)).await;
    let seen = step("read key times", client.execute("return window.__keys;", vec![])).await;
    let seen: Vec<(String, f64)> = seen
        .as_array()
        .map(|a| a.iter().filter_map(|k| Some((k.get(0)?.as_str()?.to_string(), k.get(1)?.as_f64()?))).collect())
        .unwrap_or_default();
    seen.windows(2)
        .map(|w| (w[1].1 - w[0].1, format!("{:?} → {:?}", w[0].0, w[1].0)))
        .fold((0.0, String::new()), |worst, gap| if gap.0 > worst.0 { gap } else { worst })
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, WebKitWebDriver and tauri-driver: run with `make e2e`"]
async fn a_clerk_receives_issues_and_reads_the_stock_in_the_real_app() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e2e.sqlite");
    prepare_ledger(&db);

    let session = Session::start(&db).await;
    let client = &session.client;

    click(client, "[data-testid=user-option-wangli]").await;

    // Receive 10 into MAIN.
    click(client, "[data-testid=nav-receive]").await;
    select(client, "[data-testid=receive-location]", "MAIN").await;
    type_into(client, "[data-testid=receive-item]", &format!("{ITEM}\n")).await;
    type_into(client, "[data-testid=receive-lot]", "E2E-L1").await;
    type_into(client, "[data-testid=receive-expiry]", "2099-06-30").await;
    type_into(client, "[data-testid=receive-qty]", "10").await;
    click(client, "[data-testid=receive-submit]").await;
    let receipt = text_containing(client, "[data-testid=receive-result]", "RK-E2E-000001").await;
    println!("receipt banner: {receipt}");
    save_screenshot(client, "e2e-receive.png").await;

    // Issue 3 to ICU; FEFO picks the only lot.
    click(client, "[data-testid=nav-issue]").await;
    select(client, "[data-testid=issue-location]", "MAIN").await;
    select(client, "[data-testid=issue-department]", "ICU").await;
    type_into(client, "[data-testid=issue-item]", &format!("{ITEM}\n")).await;
    type_into(client, "[data-testid=issue-qty]", "3").await;
    click(client, "[data-testid=issue-submit]").await;
    let issue = text_containing(client, "[data-testid=issue-result]", "CK-E2E-000001").await;
    println!("issue banner: {issue}");

    // The stock screen shows 7 at MAIN.
    click(client, "[data-testid=nav-stock]").await;
    let quantity = stock_quantity(client, 7).await;
    save_screenshot(client, "e2e-stock.png").await;
    session.close().await;
    assert_eq!(quantity, 7, "10 received − 3 issued");

    // And the ledger file agrees with the screen.
    let ledger = ledger::Ledger::open(&db).unwrap();
    let rows = ledger.stock(&ledger::StockFilter::default()).unwrap();
    assert_eq!(rows.iter().map(|r| r.quantity).sum::<i64>(), 7);
    assert!(ledger::balance::verify(ledger.connection()).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, WebKitWebDriver and tauri-driver: run with `make e2e`"]
async fn a_wedge_scan_fills_the_receive_line_wherever_the_focus_is() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e2e-scan.sqlite");
    prepare_ledger(&db);
    // The app reads two-digit years against its own clock: two years ahead is always in this century's window.
    let expiry = chrono::Local::now().date_naive() + chrono::Days::new(730);

    let session = Session::start(&db).await;
    let client = &session.client;
    click(client, "[data-testid=user-option-wangli]").await;
    click(client, "[data-testid=nav-receive]").await;
    element(client, "[data-testid=receive-location]").await;

    // The focus on the page itself, not in any field.
    step("blur the focused field", client.execute("document.activeElement.blur();", vec![])).await;
    assert_eq!(focused(client).await, "BODY");
    let lot = "E2E-SCAN-1";
    let yymmdd = expiry.format("%y%m%d").to_string();
    let (gap, keys) = wedge_scan(client, &format!("]d201{ITEM}17{yymmdd}10{lot}")).await;
    println!("first scan: largest gap between keys {gap:.1} ms ({keys})");
    let item = value_becomes(client, "[data-testid=receive-item]", ITEM).await;
    assert_eq!(item, ITEM, "the scan filled the item (largest key gap {gap:.1} ms)");
    assert_eq!(value_becomes(client, "[data-testid=receive-lot]", lot).await, lot);
    assert_eq!(value_becomes(client, "[data-testid=receive-expiry]", &expiry.to_string()).await, expiry.to_string());
    let feedback = element(client, "[data-testid=scan-feedback]").await;
    assert_eq!(step("scan outcome", feedback.attr("data-outcome")).await.as_deref(), Some("success"));
    println!("scan banner: {}", step("scan banner text", feedback.text()).await);
    // The clerk moves on: the quantity is the one field the barcode did not fill.
    assert_eq!(focused(client).await, "INPUT#receive-qty");
    save_screenshot(client, "e2e-scan.png").await;

    // A second box, scanned with the focus on the location select and a GS
    // (Ctrl+]) after the lot: the select keeps its value (typed characters
    // select options by type-ahead), the line takes the new lot.
    step(
        "focus the location",
        client.execute("document.querySelector('[data-testid=receive-location]').focus();", vec![]),
    )
    .await;
    assert_eq!(focused(client).await, "SELECT#receive-location");
    let second = "E2E-SCAN-2";
    let (gap, keys) = wedge_scan(client, &format!("]d201{ITEM}10{second}\u{1d}17{yymmdd}")).await;
    println!("second scan: largest gap between keys {gap:.1} ms ({keys})");
    assert_eq!(value_becomes(client, "[data-testid=receive-lot]", second).await, second, "largest key gap {gap:.1} ms");
    assert_eq!(value_of(client, "[data-testid=receive-expiry]").await, expiry.to_string());
    assert_eq!(value_of(client, "[data-testid=receive-location]").await, "MAIN");
    assert_eq!(focused(client).await, "INPUT#receive-qty");

    // Typing by hand is still typing, and the scanned line posts.
    type_into(client, "[data-testid=receive-qty]", "4").await;
    click(client, "[data-testid=receive-submit]").await;
    let receipt = text_containing(client, "[data-testid=receive-result]", "RK-E2E-000001").await;
    println!("receipt banner: {receipt}");
    save_screenshot(client, "e2e-scan-posted.png").await;
    session.close().await;

    let ledger = ledger::Ledger::open(&db).unwrap();
    let rows = ledger.stock(&ledger::StockFilter::default()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].lot.as_deref(), rows[0].expiry, rows[0].quantity), (Some(second), Some(expiry), 4));
}

/// Waits until the counting screen lists `scans` of the counter's last scans,
/// then a moment more, as a person takes between two boxes. WebDriver sends
/// each key only once the page has handled the one before, so a scan sent
/// while the page still redraws the last one arrives with the gaps of that
/// work between its keys (a scanner's keys are queued as they come).
async fn settle_after_scan(client: &Client, scans: usize) {
    let started = Instant::now();
    while step("last scans", client.find_all(Locator::Css("[data-testid=last-scan]"))).await.len() < scans
        && started.elapsed() < WAIT
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
}

/// What the scan banner says now (empty when it shows nothing).
async fn scan_message(client: &Client) -> String {
    match client.find(Locator::Css("[data-testid=scan-feedback-message]")).await {
        Ok(found) => found.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// A raw TCP 9100 label printer inside the test, on a free loopback port:
/// each job it receives (one per connection, read to its end), in order.
fn raw_printer() -> (u16, std::sync::mpsc::Receiver<Vec<u8>>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (jobs, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut job = Vec::new();
            if stream.and_then(|mut s| s.read_to_end(&mut job)).is_ok() && jobs.send(job).is_err() {
                return;
            }
        }
    });
    (port, received)
}

/// A loopback port where nothing listens, for a printer that is off. A low port: a free
/// ephemeral port could be taken meanwhile by a test running beside this one.
fn refused_port() -> u16 {
    [1, 9, 7, 13]
        .into_iter()
        .find(|&port| {
            let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            matches!(std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
        })
        .expect("a low loopback port that refuses connections")
}

/// Adds a ZPL printer at 127.0.0.1:`port` on the printers screen.
async fn add_zpl_printer(client: &Client, name: &str, port: u16) {
    click(client, "[data-testid=printer-add]").await;
    type_into(client, "[data-testid=printer-name]", name).await;
    select(client, "[data-testid=printer-language]", "zpl").await;
    select(client, "[data-testid=printer-connection]", "tcp").await;
    type_into(client, "[data-testid=printer-host]", "127.0.0.1").await;
    type_into(client, "[data-testid=printer-port]", &port.to_string()).await;
    click(client, "[data-testid=printer-save]").await;
    element(client, &format!("[data-testid=printer-row][data-name='{name}']")).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, WebKitWebDriver and tauri-driver: run with `make e2e`"]
async fn receipt_labels_print_to_a_zpl_printer_the_pdf_shows_and_a_failed_job_is_retried_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e2e-print.sqlite");
    prepare_ledger(&db);
    {
        // Printers are master data: a manager sets them up.
        let mut ledger = ledger::Ledger::open(&db).unwrap();
        let manager = NewUser {
            username: "zhaoqiang".into(),
            display_name: "赵强".into(),
            role: Role::Manager,
            language: Lang::Zh,
        };
        ledger.add_user(&manager).unwrap();
    }
    let (port, printed) = raw_printer();
    let offline = refused_port();
    // GS1 reads two-digit years in a window around today: two years ahead is always this century.
    let expiry = chrono::Local::now().date_naive() + chrono::Days::new(730);
    let lot = "E2E-LOT-7";

    let session = Session::start(&db).await;
    let client = &session.client;
    click(client, "[data-testid=user-option-zhaoqiang]").await;
    click(client, "[data-testid=nav-printers]").await;
    add_zpl_printer(client, "zebra", port).await;
    add_zpl_printer(client, "offline", offline).await;
    save_screenshot(client, "e2e-printers.png").await;

    // A receipt, then its labels in one action: one label for the lot, the count raised to 2.
    click(client, "[data-testid=nav-receive]").await;
    select(client, "[data-testid=receive-location]", "MAIN").await;
    type_into(client, "[data-testid=receive-item]", &format!("{ITEM}\n")).await;
    type_into(client, "[data-testid=receive-lot]", lot).await;
    type_into(client, "[data-testid=receive-expiry]", &expiry.to_string()).await;
    type_into(client, "[data-testid=receive-qty]", "10").await;
    click(client, "[data-testid=receive-submit]").await;
    text_containing(client, "[data-testid=receive-result]", "RK-E2E-000001").await;
    click(client, "[data-testid=print-labels]").await;
    select(client, "[data-testid=label-printer]", "zebra").await;
    // The label's PNG preview is on screen, one pixel per printer dot (60 × 40 mm at 8 dots/mm).
    assert_eq!(attr_becomes(client, "[data-testid=label-preview]", "data-printer", "zebra").await, "zebra");
    assert_eq!(attr_becomes(client, "[data-testid=label-preview]", "data-loaded", "true").await, "true");
    let size = "const i = document.querySelector('[data-testid=label-preview-image]'); \
        return i && i.complete ? [i.naturalWidth, i.naturalHeight] : null;";
    let mut shown = serde_json::Value::Null;
    for _ in 0..50 {
        shown = step("label preview size", client.execute(size, vec![])).await;
        if shown.as_array().is_some_and(|s| s[0].as_u64() > Some(0)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown, serde_json::json!([480, 320]), "the preview image decoded");
    type_into(client, "[data-testid=label-copies-0]", "2").await;
    save_screenshot(client, "e2e-print-labels.png").await;
    click(client, "[data-testid=labels-print]").await;
    let job = printed.recv_timeout(Duration::from_secs(30)).expect("the ZPL printer received the labels");
    let zpl = String::from_utf8(job).expect("ZPL with ^CI28 is UTF-8");
    assert!(zpl.starts_with("^XA"), "{zpl}");
    assert_eq!(zpl.matches("^XA").count(), 2, "two labels: {zpl}");
    // GS1 DataMatrix data with FNC1 written as `_1` (escape `_` in ^BX), GTIN, expiry, then the lot.
    let gs1 = format!("^FD_101{ITEM}17{}10{lot}^FS", expiry.format("%y%m%d"));
    assert_eq!(zpl.matches(gs1.as_str()).count(), 2, "{gs1} in {zpl}");
    assert!(zpl.contains(&format!("(10){lot}")), "human-readable lot: {zpl}");
    assert_eq!(attr_becomes(client, "[data-testid=labels-job]", "data-status", "sent").await, "sent");

    // The receipt as an A4 PDF on screen, in the webview's own PDF viewer.
    click(client, "[data-testid=preview-document]").await;
    let frame = element(client, "[data-testid=pdf-frame]").await;
    let bytes: usize = step("PDF size", frame.attr("data-bytes")).await.unwrap_or_default().parse().unwrap();
    assert!(bytes > 1000, "a real PDF: {bytes} bytes");
    // Our frame holds the PDF; WebKitGTK shows it in its built-in PDF.js viewer, a frame inside it.
    step("enter the PDF frame", frame.enter_frame()).await;
    step("enter the viewer", client.enter_frame(0)).await;
    let page = text_containing(client, "#viewer .page .textLayer", "RK-E2E-000001").await;
    assert!(page.contains("入库单") && page.contains(lot) && page.contains("一次性使用无菌注射器"), "{page}");
    let drawn = "return [...document.querySelectorAll('#viewer .page canvas')].map((c) => [c.width, c.height]);";
    let canvases = step("the drawn page", client.execute(drawn, vec![])).await;
    assert!(canvases[0][0].as_u64() > Some(100), "page 1 is drawn: {canvases}");
    step("leave the viewer", client.enter_parent_frame()).await;
    step("leave the PDF frame", client.enter_parent_frame()).await;
    save_screenshot(client, "e2e-print-preview.png").await;
    click(client, "[data-testid=pdf-preview-close]").await;

    // Labels to a printer that is off: the job fails with its error in plain words …
    let first = step("the first job", element(client, "[data-testid=labels-job]").await.attr("data-job")).await;
    select(client, "[data-testid=label-printer]", "offline").await;
    assert_eq!(value_becomes(client, "[data-testid=label-printer]", "offline").await, "offline");
    assert_eq!(attr_becomes(client, "[data-testid=label-preview]", "data-printer", "offline").await, "offline");
    assert_eq!(attr_becomes(client, "[data-testid=label-preview]", "data-loaded", "true").await, "true");
    click(client, "[data-testid=labels-print]").await;
    let started = Instant::now();
    while step("the job shown", element(client, "[data-testid=labels-job]").await.attr("data-job")).await == first {
        let error = client.find(Locator::Css("[data-testid=labels-error]")).await.ok();
        assert!(error.is_none() && started.elapsed() < WAIT, "no second job was queued");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(attr_becomes(client, "[data-testid=labels-job]", "data-status", "failed").await, "failed");
    assert_eq!(
        attr_becomes(client, "[data-testid=labels-job]", "data-code", "printer_refused").await,
        "printer_refused"
    );
    text_containing(client, "[data-testid=labels-job]", "拒绝连接").await;
    // … waits in the queue, and goes to the working printer from there.
    click(client, "[data-testid=nav-printers]").await;
    let failed = "[data-testid=print-job-row][data-status=failed]";
    text_containing(client, failed, "拒绝连接").await;
    save_screenshot(client, "e2e-print-queue.png").await;
    select(client, &format!("{failed} [data-testid=print-job-target]"), "zebra").await;
    click(client, &format!("{failed} [data-testid=print-job-send]")).await;
    let again = printed.recv_timeout(Duration::from_secs(30)).expect("the retried job reached the printer");
    assert_eq!(String::from_utf8(again).unwrap(), zpl, "the same labels, byte for byte");
    element(client, "[data-testid=queue-empty]").await;
    session.close().await;

    let ledger = ledger::Ledger::open(&db).unwrap();
    let jobs = ledger.print_jobs(true).unwrap();
    let outcome: Vec<_> = jobs.iter().map(|j| (j.printer.as_str(), j.status, j.attempts)).collect();
    assert_eq!(outcome, [("zebra", ledger::PrintJobStatus::Sent, 2), ("zebra", ledger::PrintJobStatus::Sent, 1)]);
}

/// A person at the keyboard: each key held and released with a pause after it
/// (never taken for a scan), wherever the focus is.
async fn type_by_hand(client: &Client, keys: &[char]) {
    let mut actions = KeyActions::new("person".into());
    for &key in keys {
        actions = actions
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key })
            .then(KeyAction::Pause { duration: Duration::from_millis(150) });
    }
    step(&format!("type {keys:?} by hand"), client.perform_actions(actions)).await;
}

/// Waits until the element's attribute holds `expected`, returning what it last held.
async fn attr_becomes(client: &Client, css: &str, name: &str, expected: &str) -> String {
    let started = Instant::now();
    loop {
        let found = element(client, css).await;
        let value = step(&format!("{name} of {css}"), found.attr(name)).await.unwrap_or_default();
        if value == expected || started.elapsed() > WAIT {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, WebKitWebDriver and tauri-driver: run with `make e2e`"]
async fn a_manager_counts_a_stocktake_with_the_scanner_reviews_and_posts_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e2e-stocktake.sqlite");
    prepare_ledger(&db);
    // Two years ahead is always in the two-digit year's window of the app's clock.
    let expiry = chrono::Local::now().date_naive() + chrono::Days::new(730);
    let lot = "E2E-ST-1";
    {
        let mut ledger = ledger::Ledger::open(&db).unwrap();
        ledger
            .add_user(&NewUser {
                username: "zhaoqiang".into(),
                display_name: "赵强".into(),
                role: Role::Manager,
                language: Lang::Zh,
            })
            .unwrap();
        ledger
            .post(&DocumentRequest {
                kind: DocumentKind::Receipt,
                user: "wangli".into(),
                location: "MAIN".into(),
                to_location: None,
                department: None,
                supplier: None,
                lines: vec![LineRequest {
                    item: ITEM.into(),
                    lot: Some(lot.into()),
                    expiry: Some(expiry),
                    quantity: 12,
                    ..LineRequest::default()
                }],
                note: String::new(),
                override_: None,
            })
            .unwrap();
    }

    let session = Session::start(&db).await;
    let client = &session.client;
    click(client, "[data-testid=user-option-zhaoqiang]").await;
    click(client, "[data-testid=nav-stocktake]").await;
    // MAIN, the only location, is chosen; no tolerance.
    let main = element(client, "[data-testid=stocktake-new-location-MAIN]").await;
    assert!(step("MAIN chosen", main.is_selected()).await);
    click(client, "[data-testid=stocktake-start]").await;
    element(client, "[data-testid=counting-view]").await;
    assert_eq!(attr_becomes(client, "[data-testid=count-progress]", "data-in-scope", "1").await, "1");

    // Two boxes scanned with the focus on the page: one unit each.
    step("blur the focused element", client.execute("document.activeElement.blur();", vec![])).await;
    let barcode = format!("]d201{ITEM}17{}10{lot}", expiry.format("%y%m%d"));
    for n in 1..=2 {
        let (gap, keys) = wedge_scan(client, &barcode).await;
        println!("stocktake scan {n}: largest gap between keys {gap:.1} ms ({keys})");
        let total = attr_becomes(client, "[data-testid=count-total]", "data-total", &n.to_string()).await;
        let banner = scan_message(client).await;
        assert_eq!(total, n.to_string(), "scan {n} counted one unit (largest key gap {gap:.1} ms; banner {banner:?})");
        settle_after_scan(client, n).await;
    }
    let feedback = element(client, "[data-testid=scan-feedback]").await;
    assert_eq!(step("scan outcome", feedback.attr("data-outcome")).await.as_deref(), Some("success"));
    assert_eq!(focused(client).await, "BODY", "scanning leaves the focus on the page");
    // The second box holds 9: typed on the page, then Enter — it replaces that scan's one unit.
    type_by_hand(client, &['9', Key::Enter.into()]).await;
    assert_eq!(attr_becomes(client, "[data-testid=count-total]", "data-total", "10").await, "10", "1 + 9");
    // One box scanned twice by mistake: the extra scan is undone with Ctrl+Z.
    settle_after_scan(client, 3).await;
    let (gap, _) = wedge_scan(client, &barcode).await;
    assert_eq!(
        attr_becomes(client, "[data-testid=count-total]", "data-total", "11").await,
        "11",
        "key gap {gap:.1} ms"
    );
    let control: char = Key::Control.into();
    let undo = KeyActions::new("undo".into())
        .then(KeyAction::Down { value: control })
        .then(KeyAction::Down { value: 'z' })
        .then(KeyAction::Up { value: 'z' })
        .then(KeyAction::Up { value: control });
    step("Ctrl+Z", client.perform_actions(undo)).await;
    assert_eq!(attr_becomes(client, "[data-testid=count-total]", "data-total", "10").await, "10", "undone");
    assert_eq!(attr_becomes(client, "[data-testid=count-progress]", "data-counted", "1").await, "1");
    save_screenshot(client, "e2e-stocktake-count.png").await;

    // The review: expected 12 (the books), counted 10; posting sets the stock.
    click(client, "[data-testid=stocktake-to-review]").await;
    let row = "[data-testid=variance-row]";
    assert_eq!(attr_becomes(client, row, "data-counted", "10").await, "10");
    assert_eq!(attr_becomes(client, row, "data-expected", "12").await, "12");
    click(client, "[data-testid=post-stocktake]").await;
    let posted = text_containing(client, "[data-testid=stocktake-posted]", "PD-E2E-000001").await;
    println!("stocktake banner: {posted}");
    assert_eq!(attr_becomes(client, "[data-testid=stocktake-status]", "data-status", "posted").await, "posted");
    save_screenshot(client, "e2e-stocktake-posted.png").await;

    click(client, "[data-testid=nav-stock]").await;
    let quantity = stock_quantity(client, 10).await;
    save_screenshot(client, "e2e-stocktake-stock.png").await;
    session.close().await;
    assert_eq!(quantity, 10, "the stock list shows the counted quantity");

    let ledger = ledger::Ledger::open(&db).unwrap();
    let report = ledger.stocktake_variance("PD-E2E-000001", "zhaoqiang").unwrap();
    let counted: Vec<_> = report.rows.iter().map(|r| (r.lot.as_deref(), r.expected, r.counted)).collect();
    assert_eq!(counted, [(Some(lot), 12, Some(10))]);
    let rows = ledger.stock(&ledger::StockFilter::default()).unwrap();
    assert_eq!(rows.iter().map(|r| r.quantity).sum::<i64>(), 10);
    assert!(ledger::balance::verify(ledger.connection()).unwrap().is_empty());
}

const REAGENT: &str = "06958841004890";

/// Waits until nothing matches `css`; false if something still does after `WAIT`.
async fn gone(client: &Client, css: &str) -> bool {
    let started = Instant::now();
    while !step(&format!("look for {css}"), client.find_all(Locator::Css(css))).await.is_empty() {
        if started.elapsed() > WAIT {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    true
}

/// The e2e ledger with a manager and a reagent fridge FR1 (2–8 °C; a minute
/// out of range is an excursion) holding 5 cold-chain reagents, read by a
/// Modbus thermometer at `port` (slave 1) whose probe was already warm two
/// minutes ago: the app's first reading of it completes the excursion.
fn prepare_cold_ledger(path: &Path, port: &str) {
    prepare_ledger(path);
    let mut ledger = ledger::Ledger::open(path).unwrap();
    let manager =
        NewUser {
            username: "zhaoqiang".into(), display_name: "赵强".into(), role: Role::Manager, language: Lang::Zh
        };
    ledger.add_user(&manager).unwrap();
    ledger
        .add_location(&NewLocation {
            code: "FR1".into(),
            name: "试剂冰箱".into(),
            name_en: "Reagent fridge".into(),
            kind: LocationKind::Cold,
            department: None,
            min_temp_c: Some(2.into()),
            max_temp_c: Some(8.into()),
        })
        .unwrap();
    let rules = ledger::ColdUnitRules { excursion_minutes: 1, missing_minutes: 60, gate_minutes: 30 };
    ledger.set_cold_unit(ledger::INITIAL_ADMIN, "FR1", rules).unwrap();
    ledger
        .add_item(&NewItem {
            code: REAGENT.into(),
            name: "肌钙蛋白检测试剂盒".into(),
            name_en: "Troponin assay kit".into(),
            unit: "盒".into(),
            pack_size: 1,
            cold_chain: true,
            min_temp_c: Some(2.into()),
            max_temp_c: Some(8.into()),
            ..NewItem::default()
        })
        .unwrap();
    ledger
        .post(&DocumentRequest {
            kind: DocumentKind::Receipt,
            user: "wangli".into(),
            location: "FR1".into(),
            to_location: None,
            department: None,
            supplier: None,
            lines: vec![LineRequest {
                item: REAGENT.into(),
                lot: Some("R1".into()),
                expiry: Some("2099-01-31".parse().unwrap()),
                quantity: 5,
                ..LineRequest::default()
            }],
            note: String::new(),
            override_: None,
        })
        .unwrap();
    let sensor = ledger::SensorConfig {
        location: "FR1".into(),
        port: port.into(),
        protocol: "modbus-rtu".into(),
        slave: 1,
        model: "xy-md02".into(),
        baud: 9600,
        pattern: String::new(),
    };
    ledger.add_sensor(ledger::INITIAL_ADMIN, &sensor).unwrap();
    // The probe as the poller names it (port#slave), warm since two minutes ago.
    let two_minutes_ago = chrono::Utc::now().timestamp_millis() - 120_000;
    ledger.record_reading("FR1", &format!("{port}#1"), two_minutes_ago, 11.8, Some(45.0)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, WebKitWebDriver, tauri-driver and Python with pymodbus: run with `make e2e`"]
async fn a_warm_fridge_raises_the_alarm_quarantines_its_stock_refuses_the_issue_and_a_manager_releases_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e2e-coldchain.sqlite");
    // The cable: a pty pair joined by a relay; the app polls our end, pymodbus answers on theirs.
    let line = devices::sim::Line::new(None).unwrap();
    prepare_cold_ledger(&db, &line.ours);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("fixtures/devices/modbus_sensors.py");
    let python = devices::sim::ModbusPeer::python(root);
    // Slave 1 reads 12.5 °C (registers hold tenths), 45 %RH.
    let warm = devices::sim::ModbusPeer::start(&python, &script, &line.theirs, 9600, &[(1, 125, 450)])
        .expect("pymodbus serves the thermometer (make py-deps)");

    // Read every second (not every minute). Each cycle also redraws the app's
    // cold-chain views: at 300 ms, the wedge-scan test running beside this one
    // on two cores once saw a 51 ms pause inside a scan and missed it.
    let session = Session::start_with(&db, &[("MEDLEDGER_POLL_INTERVAL_MS", "1000")]).await;
    let client = &session.client;
    click(client, "[data-testid=user-option-wangli]").await;

    // The alarm is on the screen the clerk is on, and the cold chain screen shows why.
    text_containing(client, "[data-testid=coldchain-alarm]", "FR1").await;
    click(client, "[data-testid=nav-coldchain]").await;
    let unit = "[data-testid=cold-unit-FR1]";
    assert_eq!(attr_becomes(client, unit, "data-alarm", "open").await, "open");
    assert_eq!(attr_becomes(client, unit, "data-quarantined", "5").await, "5");
    assert_eq!(attr_becomes(client, unit, "data-available", "0").await, "0");
    text_containing(client, "[data-testid=cold-temp-FR1]", "12.5 °C").await;
    text_containing(client, "[data-testid=cold-stock-FR1]", "隔离 5").await;
    element(client, "[data-testid=excursion-FR1][data-kind=out_of_range]").await;
    element(client, "[data-testid=cold-chart-FR1]").await;
    save_screenshot(client, "e2e-coldchain-alarm.png").await;

    // Issuing the quarantined reagent is refused: none of it is available.
    click(client, "[data-testid=nav-issue]").await;
    select(client, "[data-testid=issue-location]", "FR1").await;
    select(client, "[data-testid=issue-department]", "ICU").await;
    type_into(client, "[data-testid=issue-item]", &format!("{REAGENT}\n")).await;
    type_into(client, "[data-testid=issue-qty]", "1").await;
    click(client, "[data-testid=issue-submit]").await;
    let banner = "[data-testid=error-banner]";
    assert_eq!(attr_becomes(client, banner, "data-code", "insufficient_stock").await, "insufficient_stock");
    text_containing(client, banner, "可用库存只有 0").await;
    save_screenshot(client, "e2e-coldchain-issue-refused.png").await;

    // The fridge is repaired: the thermometer reads 5.0 °C again.
    drop(warm);
    let _cold = devices::sim::ModbusPeer::start(&python, &script, &line.theirs, 9600, &[(1, 50, 450)])
        .expect("pymodbus serves the thermometer again");

    // A manager reviews the excursion and releases the stock with a reason.
    click(client, "[data-testid=switch-user]").await;
    click(client, "[data-testid=user-option-zhaoqiang]").await;
    click(client, "[data-testid=nav-coldchain]").await;
    text_containing(client, "[data-testid=cold-temp-FR1]", "5.0 °C").await;
    let reason = "压缩机已修复，温度记录已复核，试剂外观正常";
    type_into(client, "[data-testid=resolve-reason-FR1]", reason).await;
    click(client, "[data-testid=resolve-release-FR1]").await;
    assert_eq!(attr_becomes(client, unit, "data-alarm", "none").await, "none");
    assert_eq!(attr_becomes(client, unit, "data-available", "5").await, "5");
    assert_eq!(attr_becomes(client, unit, "data-quarantined", "0").await, "0");
    text_containing(client, "[data-testid=coldchain-notice]", "FR1").await;
    save_screenshot(client, "e2e-coldchain-released.png").await;

    // The alarm is gone, and the reagent issues again (an in-range reading passes the gate).
    click(client, "[data-testid=nav-issue]").await;
    assert!(gone(client, "[data-testid=coldchain-alarm]").await, "the alarm stays after the release");
    select(client, "[data-testid=issue-location]", "FR1").await;
    select(client, "[data-testid=issue-department]", "ICU").await;
    type_into(client, "[data-testid=issue-item]", &format!("{REAGENT}\n")).await;
    type_into(client, "[data-testid=issue-qty]", "1").await;
    click(client, "[data-testid=issue-submit]").await;
    text_containing(client, "[data-testid=issue-result]", "CK-E2E-000001").await;
    session.close().await;

    let ledger = ledger::Ledger::open(&db).unwrap();
    let excursions = ledger.excursions(false).unwrap();
    assert_eq!(excursions.len(), 1, "{excursions:?}");
    let excursion = &excursions[0];
    assert_eq!((excursion.kind.as_str(), excursion.status.as_str()), ("out_of_range", "released"));
    assert_eq!((excursion.quarantined_units, excursion.resolution_reason.as_deref()), (5, Some(reason)));
    let rows = ledger.stock(&ledger::StockFilter::default()).unwrap();
    let fridge: Vec<_> = rows.iter().filter(|r| r.location.code == "FR1").map(|r| (r.status, r.quantity)).collect();
    assert_eq!(fridge, [(ledger::StockStatus::Available, 4)]);
    assert!(ledger::balance::verify(ledger.connection()).unwrap().is_empty());
}
