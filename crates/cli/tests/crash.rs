//! Power-cut safety: a process posting 5-line receipts in a loop is killed
//! with SIGKILL at random moments, again and again, on the same file. After
//! each kill the file must pass `PRAGMA integrity_check`, every document the
//! process reported as posted must be there whole, no document may be
//! partial, and the cached balances must equal the fold of the movements.

use ledger::{balance, Ledger};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ROUNDS: usize = 12;
const LINES: i64 = 5;

#[test]
fn killing_a_posting_process_never_leaves_a_partial_document() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.sqlite");
    let exe = env!("CARGO_BIN_EXE_medledger");
    let status = Command::new(exe).arg("--db").arg(&db).args(["init", "--site", "S01"]).status().unwrap();
    assert!(status.success());

    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    println!("crash test seed {seed}");
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut reported: Vec<String> = Vec::new();
    for round in 0..ROUNDS {
        let mut child = Command::new(exe)
            .arg("--db")
            .arg(&db)
            .args(["post-loop", "--lines", &LINES.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("posted ").map(|r| r.split(' ').next().unwrap().to_string()))
                .collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(20 + next() % 300));
        child.kill().unwrap(); // SIGKILL on Unix: no destructors, no flush.
        child.wait().unwrap();
        let numbers = reader.join().unwrap();
        println!("round {round}: {} documents reported before the kill", numbers.len());
        reported.extend(numbers);

        let ledger = Ledger::open(&db).unwrap();
        let conn = ledger.connection();
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(integrity, "ok", "round {round}");
        for number in &reported {
            let doc = ledger.document(number).unwrap_or_else(|e| panic!("reported {number} is missing: {e}"));
            assert_eq!(doc.lines.len() as i64, LINES, "{number}");
            assert_eq!(doc.movements.len() as i64, LINES, "{number}");
        }
        let partial: i64 = conn
            .query_row(
                "SELECT count(*) FROM documents d WHERE d.status <> 'posted'
                   OR (SELECT count(*) FROM movements m WHERE m.document_id = d.id) <> ?1
                   OR (SELECT count(*) FROM document_lines l WHERE l.document_id = d.id) <> ?1",
                [LINES],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(partial, 0, "round {round}: partial documents");
        let orphans: i64 =
            conn.query_row("SELECT count(*) FROM movements WHERE document_id IS NULL", [], |r| r.get(0)).unwrap();
        assert_eq!(orphans, 0);
        assert_eq!(balance::verify(conn).unwrap(), vec![], "round {round}");
    }
    assert!(!reported.is_empty(), "the loop posted nothing in {ROUNDS} rounds");
    let ledger = Ledger::open(&db).unwrap();
    let posted: i64 = ledger.connection().query_row("SELECT count(*) FROM documents", [], |r| r.get(0)).unwrap();
    assert!(posted >= reported.len() as i64);
    println!("{} documents reported, {posted} on file", reported.len());
}
