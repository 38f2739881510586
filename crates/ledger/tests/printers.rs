//! The workstation's printers and its persisted print queue.

mod common;
use common::*;
use ledger::*;

#[test]
fn a_job_waits_until_it_is_sent_and_survives_a_reopen() {
    let mut h = hospital();
    h.ledger.set_printer("boss", "zebra1", "tcp://127.0.0.1:9100", r#"{"language":"zpl"}"#).unwrap();
    assert_eq!(h.ledger.set_printer("wang", "zebra2", "tcp://x", "{}").unwrap_err().code(), "forbidden");
    assert_eq!(h.ledger.set_printer("boss", "bad name!", "tcp://x", "{}").unwrap_err().code(), "invalid_input");
    assert_eq!(h.ledger.set_printer("boss", "p", "tcp://x", "not json").unwrap_err().code(), "invalid_input");
    let job = h.ledger.queue_print_job("wang", "zebra1", PrintJobKind::Label, "2 × lot L1", b"^XA^XZ").unwrap();
    let failed = h.ledger.finish_print_job(&job, Err("connection refused".into())).unwrap();
    assert_eq!(
        (failed.status, failed.attempts, failed.last_error.as_deref()),
        (PrintJobStatus::Failed, 1, Some("connection refused"))
    );
    // After a restart the job and its bytes are still there.
    let path = h.dir.path().join("ledger.sqlite");
    drop(h.ledger);
    let mut ledger = Ledger::open_with(&path, Box::new(h.clock.clone()), Box::new(RandomIds::seeded(5))).unwrap();
    assert_eq!(ledger.print_job_payload(&job).unwrap().payload, b"^XA^XZ");
    let sent = ledger.finish_print_job(&job, Ok(())).unwrap();
    assert_eq!((sent.status, sent.attempts), (PrintJobStatus::Sent, 2));
    assert_eq!(ledger.print_job_payload(&job).unwrap_err().code(), "unknown_print_job", "sent bytes are dropped");
    assert_eq!(ledger.finish_print_job(&job, Ok(())).unwrap_err().code(), "unknown_print_job");
    assert!(ledger.print_jobs(false).unwrap().is_empty());
    assert_eq!(ledger.print_jobs(true).unwrap().len(), 1);
}

#[test]
fn a_job_is_between_one_byte_and_the_limit() {
    let mut h = hospital();
    h.ledger.set_printer("boss", "pdf", "cups://office", "{}").unwrap();
    let queue = |h: &mut Hospital, bytes: usize| {
        h.ledger.queue_print_job("wang", "pdf", PrintJobKind::Document, "x", &vec![b'%'; bytes])
    };
    assert_eq!(queue(&mut h, 0).unwrap_err().code(), "invalid_input");
    assert_eq!(queue(&mut h, printers::PRINT_JOB_BYTES_MAX + 1).unwrap_err().code(), "invalid_input");
    let at_limit = queue(&mut h, printers::PRINT_JOB_BYTES_MAX).unwrap();
    assert_eq!(h.ledger.print_job(&at_limit).unwrap().bytes, printers::PRINT_JOB_BYTES_MAX as i64);
    assert_eq!(
        h.ledger.queue_print_job("wang", "nowhere", PrintJobKind::Label, "x", b"1").unwrap_err().code(),
        "unknown_printer"
    );
    let cancelled = h.ledger.cancel_print_job("audit", &at_limit).unwrap();
    assert_eq!(cancelled.status, PrintJobStatus::Cancelled);
}
