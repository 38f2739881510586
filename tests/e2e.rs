//! End-to-end: the real desktop app, driven through its real webview.
//!
//! Starts its own Xvfb display, `tauri-driver` (which runs WebKitWebDriver)
//! on free loopback ports, and the app on a fresh ledger in a temporary
//! folder. A clerk receives an item, issues part of it, and reads the right
//! quantity off the stock screen; screenshots go to `artifacts/`.
//! Run with `make e2e` (needs xvfb, webkit2gtk-driver and tauri-driver).

use fantoccini::{Client, ClientBuilder, Locator};
use ledger::{Lang, LocationKind, NewItem, NewLocation, NewUser, Role};
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

async fn save_screenshot(client: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
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

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Xvfb, WebKitWebDriver and tauri-driver: run with `make e2e`"]
async fn a_clerk_receives_issues_and_reads_the_stock_in_the_real_app() {
    let app = PathBuf::from(env!("CARGO_BIN_EXE_medledger-app"));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e2e.sqlite");
    prepare_ledger(&db);

    let (_xvfb, display) = start_xvfb();
    let port = free_port();
    let native_port = free_port();
    let _driver = Reaped(
        grouped(tauri_driver())
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("DISPLAY", &display)
            .env("MEDLEDGER_DB", &db)
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env("LANG", "zh_CN.UTF-8")
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

    click(&client, "[data-testid=user-option-wangli]").await;

    // Receive 10 into MAIN.
    click(&client, "[data-testid=nav-receive]").await;
    select(&client, "[data-testid=receive-location]", "MAIN").await;
    type_into(&client, "[data-testid=receive-item]", &format!("{ITEM}\n")).await;
    type_into(&client, "[data-testid=receive-lot]", "E2E-L1").await;
    type_into(&client, "[data-testid=receive-expiry]", "2099-06-30").await;
    type_into(&client, "[data-testid=receive-qty]", "10").await;
    click(&client, "[data-testid=receive-submit]").await;
    let receipt = text_containing(&client, "[data-testid=receive-result]", "RK-E2E-000001").await;
    println!("receipt banner: {receipt}");
    save_screenshot(&client, "e2e-receive.png").await;

    // Issue 3 to ICU; FEFO picks the only lot.
    click(&client, "[data-testid=nav-issue]").await;
    select(&client, "[data-testid=issue-location]", "MAIN").await;
    select(&client, "[data-testid=issue-department]", "ICU").await;
    type_into(&client, "[data-testid=issue-item]", &format!("{ITEM}\n")).await;
    type_into(&client, "[data-testid=issue-qty]", "3").await;
    click(&client, "[data-testid=issue-submit]").await;
    let issue = text_containing(&client, "[data-testid=issue-result]", "CK-E2E-000001").await;
    println!("issue banner: {issue}");

    // The stock screen shows 7 at MAIN.
    click(&client, "[data-testid=nav-stock]").await;
    let quantity = stock_quantity(&client, 7).await;
    save_screenshot(&client, "e2e-stock.png").await;
    step("close the session", client.close()).await;
    assert_eq!(quantity, 7, "10 received − 3 issued");

    // And the ledger file agrees with the screen.
    let ledger = ledger::Ledger::open(&db).unwrap();
    let rows = ledger.stock(&ledger::StockFilter::default()).unwrap();
    assert_eq!(rows.iter().map(|r| r.quantity).sum::<i64>(), 7);
    assert!(ledger::balance::verify(ledger.connection()).unwrap().is_empty());
}
