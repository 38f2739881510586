//! `medledger barcode parse`: one JSON object for DATA (exit 2 with one line
//! on stderr when it cannot be read), JSON Lines for stdin, bounded lines.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn medledger(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_medledger"))
        .args(args)
        .env("LANG", "en_US.UTF-8")
        .env_remove("LC_ALL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

#[test]
fn one_barcode_prints_its_reading_as_json() {
    let out = medledger(&["barcode", "parse", "]d20109506000134352172701311012345\u{1d}21S1"], None);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scheme"], "gs1");
    assert_eq!(v["symbology"], "]d2");
    assert_eq!(v["gtin"], "09506000134352");
    assert_eq!(v["lot"], "12345");
    assert_eq!(v["serial"], "S1");
    assert_eq!(v["expiry"], "2027-01-31");
    assert_eq!(v["production_date"], Value::Null);
    assert_eq!(v["elements"].as_array().unwrap().len(), 4);
    assert_eq!(v["candidates"], serde_json::json!([]));
}

#[test]
fn an_unreadable_barcode_prints_its_error_and_exits_2_with_one_line() {
    let out = medledger(&["barcode", "parse", "0109506000134353", "--lang", "zh"], None);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["input"], "0109506000134353");
    assert_eq!(v["error"]["code"], "bad_check_digit");
    assert!(v["error"]["message"].as_str().unwrap().contains("校验位"));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1);
    assert!(stderr.starts_with("medledger: [bad_check_digit]"));
}

#[test]
fn stdin_gives_one_json_line_per_barcode_errors_included() {
    let mut input = b"+A99912345/$$52001510X33\r\nMA.156.M0.100350.01004YA10017.L1\nnot a barcode\n\xff\xfe\n".to_vec();
    input.extend(std::iter::repeat_n(b'1', 100_000));
    input.extend(b"\n(01)09506000134352");
    let out = medledger(&["barcode", "parse"], Some(&input));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0]["scheme"], "hibc");
    assert_eq!(lines[0]["input"], "+A99912345/$$52001510X33");
    assert_eq!(lines[1]["scheme"], "ma");
    assert_eq!(lines[2]["error"]["code"], "unknown_format");
    assert_eq!(lines[3]["error"]["code"], "not_text");
    assert_eq!(lines[4]["error"]["code"], "too_long");
    assert_eq!(lines[5]["gtin"], "09506000134352");
}
