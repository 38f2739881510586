//! What can go wrong in a sync, with a stable code and words for the user.

use ledger::Lang;

/// A failed enrolment or sync round. Nothing half-applied: a pull page is
/// applied with its cursor in one transaction, a push is idempotent.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server could not be reached (network down, wrong address).
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// The server refused the request.
    #[error("server refused ({code}): {message}")]
    Refused {
        /// The server's stable code.
        code: String,
        /// The server's words.
        message: String,
    },
    /// The server answered something that is not the protocol.
    #[error("unexpected answer from the server: {0}")]
    BadAnswer(String),
    /// The node is not enrolled yet.
    #[error("not enrolled: run sync with --enrol CODE first")]
    NotEnrolled,
    /// Plain HTTP to a host that is not this computer.
    #[error("plain http is only allowed to this computer (127.0.0.1, ::1, localhost); use https for {0}")]
    InsecureUrl(String),
    /// A bad URL.
    #[error("bad server address {0}")]
    BadUrl(String),
    /// The local ledger refused.
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
}

impl SyncError {
    /// Stable code.
    pub fn code(&self) -> String {
        match self {
            SyncError::Unreachable(_) => "server_unreachable".into(),
            SyncError::Refused { code, .. } => code.clone(),
            SyncError::BadAnswer(_) => "bad_answer".into(),
            SyncError::NotEnrolled => "not_enrolled".into(),
            SyncError::InsecureUrl(_) => "insecure_url".into(),
            SyncError::BadUrl(_) => "bad_url".into(),
            SyncError::Ledger(e) => e.code().into(),
        }
    }

    /// The message in the user's language, saying what to do.
    pub fn message(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        match self {
            SyncError::Unreachable(detail) => {
                if zh {
                    format!("连不上医院服务器（{detail}）。本机照常记账，网络恢复后会自动同步。")
                } else {
                    format!("The hospital server cannot be reached ({detail}). Keep working: this workstation syncs by itself when the network is back.")
                }
            }
            SyncError::Refused { code, message } => match (code.as_str(), zh) {
                ("unauthenticated", true) => "服务器不认识本机的令牌。请管理员在服务器上生成注册码，再用它重新注册。".into(),
                ("unauthenticated", false) => "The server does not know this workstation's token. Ask an administrator for an enrolment code and enrol again.".into(),
                ("revoked", true) => "本机已被服务器停用，不能再同步。请联系管理员。".into(),
                ("revoked", false) => "This workstation was revoked on the server and may not sync. Contact an administrator.".into(),
                ("incompatible_version", true) => format!("服务器与本机版本不兼容：{message}。请把两边升级到同一版本。"),
                ("incompatible_version", false) => format!("The server and this workstation run incompatible versions: {message}. Upgrade both to the same release."),
                ("site_mismatch", true) => format!("注册码不是为本站点生成的：{message}。请为本机的站点代码重新生成注册码。"),
                ("site_mismatch", false) => format!("The enrolment code was made for another site: {message}. Make a code for this workstation's site code."),
                ("site_taken", true) => format!("{message}。每台工作站的站点代码必须唯一（单据号里有它），请用新的站点代码初始化本机。"),
                ("site_taken", false) => format!("{message}. Each workstation needs its own site code (document numbers carry it); initialise this one with a new site code."),
                ("bad_enrolment_code", true) => "注册码无效、已用过或已过期。请在服务器上重新生成。".into(),
                ("bad_enrolment_code", false) => "The enrolment code is unknown, used or expired. Make a new one on the server.".into(),
                (_, true) => format!("服务器拒绝了请求（{code}）：{message}"),
                (_, false) => format!("The server refused the request ({code}): {message}"),
            },
            SyncError::BadAnswer(detail) => {
                if zh {
                    format!("服务器的回答无法识别（{detail}）。请检查地址是否是 MedLedger 服务器。")
                } else {
                    format!("The server's answer was not understood ({detail}). Check that the address is a MedLedger server.")
                }
            }
            SyncError::NotEnrolled => {
                if zh {
                    "本机尚未注册到服务器。请用管理员给的注册码同步一次（--enrol 注册码）。".into()
                } else {
                    "This workstation is not enrolled. Sync once with the enrolment code from an administrator (--enrol CODE).".into()
                }
            }
            SyncError::InsecureUrl(url) => {
                if zh {
                    format!("明文 http 只允许连接本机；{url} 请用 https。")
                } else {
                    format!("Plain http is only allowed to this computer; use https for {url}.")
                }
            }
            SyncError::BadUrl(url) => {
                if zh {
                    format!("服务器地址 {url} 不正确，例如 https://server.hospital:8443")
                } else {
                    format!("The server address {url} is not valid, e.g. https://server.hospital:8443")
                }
            }
            SyncError::Ledger(e) => e.message(lang),
        }
    }
}
