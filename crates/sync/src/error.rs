//! What can go wrong in a sync, with a stable code and words for the user.

use crate::tls::{TlsFileProblem, TlsFileRole};
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
    /// The server was asked to listen beyond this computer without TLS.
    #[error("without --tls-cert and --tls-key the server listens only on this computer (127.0.0.1, ::1), not {0}")]
    InsecureListen(String),
    /// A certificate, key or CA file that cannot be used.
    #[error("{}", tls_file_message(.path, *.role, .problem, false))]
    TlsFile {
        /// The file as given.
        path: String,
        /// Which file it is.
        role: TlsFileRole,
        /// What is wrong with it.
        problem: TlsFileProblem,
    },
    /// The server's certificate is not signed by a CA this workstation trusts.
    #[error("the server's certificate is not trusted: {0}")]
    CertificateUntrusted(String),
    /// The server's certificate names another host than the address used.
    #[error("the server's certificate is not valid for {url}: {detail}")]
    CertificateWrongHost {
        /// The server address used.
        url: String,
        /// rustls' words.
        detail: String,
    },
    /// The server's certificate has expired or is not valid yet (or this computer's clock is wrong).
    #[error("the server's certificate is out of date: {0}")]
    CertificateExpired(String),
    /// An https address whose server does not speak TLS.
    #[error("{0} does not speak https")]
    NotHttps(String),
    /// This workstation sent everything again after the server's database went
    /// back; it started from a snapshot, so it must start afresh from a new one.
    #[error("this workstation sent its records again; start it afresh from a new database")]
    StartAfresh,
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
            SyncError::InsecureListen(_) => "insecure_listen".into(),
            SyncError::TlsFile { problem: TlsFileProblem::Unreadable(_) | TlsFileProblem::TooLarge, .. } => {
                "tls_file_unreadable".into()
            }
            SyncError::TlsFile { problem: TlsFileProblem::KeyMismatch, .. } => "tls_key_mismatch".into(),
            SyncError::TlsFile { .. } => "tls_file_invalid".into(),
            SyncError::CertificateUntrusted(_) => "certificate_untrusted".into(),
            SyncError::CertificateWrongHost { .. } => "certificate_wrong_host".into(),
            SyncError::CertificateExpired(_) => "certificate_expired".into(),
            SyncError::NotHttps(_) => "server_not_https".into(),
            SyncError::StartAfresh => "start_afresh".into(),
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
                ("workstation_behind", true) => "本机的账本比它已经发给服务器的还旧（从备份恢复，或者另一台电脑拷贝了本机的数据库），取回本机的记录后仍未对上。请再同步一次；如果反复出现，说明两台电脑在用同一个本机身份：请让其中一台用新的数据库重新注册。".into(),
                ("workstation_behind", false) => "This workstation's ledger is older than what it already sent to the server (restored from a backup, or its database copied to another computer), and fetching its own records back did not settle it. Sync again; if this keeps happening, two computers are using one workstation identity: enrol one of them again with a new database.".into(),
                ("server_behind", true) => "服务器上本机的记录比本机已经发出的少：服务器的数据库被恢复到了较旧的备份。本机的记录都在，没有发送也没有接收任何内容。请信息科恢复服务器最新的备份后再同步；如果没有更新的备份，请在每台工作站上运行一次 medledger sync --resend，把各自的记录重新发给服务器。".into(),
                ("server_behind", false) => "The server holds less from this workstation than it already sent: the server's database was restored from an older backup. Everything on this workstation is kept; nothing was sent or received. Ask IT to restore the server's newest backup, then sync again; if there is no newer backup, run medledger sync --resend once on each workstation to send its records to the server again.".into(),
                ("https_required", true) => "服务器只接受 https：请把服务器地址改为 https:// 开头（主机和端口不变）。".into(),
                ("https_required", false) => "The server speaks https only: start the server address with https:// (same host and port).".into(),
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
            SyncError::InsecureListen(addr) => {
                if zh {
                    format!("不加 TLS 时服务器只在本机（127.0.0.1、::1）监听；要在 {addr} 上监听，请同时给出 --tls-cert 证书.pem 和 --tls-key 私钥.pem。")
                } else {
                    format!("Without TLS the server listens only on this computer (127.0.0.1, ::1); to listen on {addr}, give --tls-cert cert.pem and --tls-key key.pem.")
                }
            }
            SyncError::TlsFile { path, role, problem } => tls_file_message(path, *role, problem, zh),
            SyncError::CertificateUntrusted(detail) => {
                if zh {
                    format!("本机不信任服务器的证书（{detail}），没有连接。如果医院使用自己的证书颁发机构（CA）或自签名证书，请向信息科要 CA 证书（PEM 文件），注册或同步时加 --ca CA证书.pem。")
                } else {
                    format!("The server's certificate is not trusted by this workstation ({detail}); nothing was sent. If the hospital uses its own certificate authority or a self-signed certificate, get the CA certificate (a PEM file) from IT and enrol or sync with --ca ca.pem.")
                }
            }
            SyncError::CertificateWrongHost { url, detail } => {
                if zh {
                    format!("服务器证书上的名称与地址 {url} 不符（{detail}），没有连接。请使用证书上写的服务器名称（问信息科），例如 https://sync.hospital:8443。")
                } else {
                    format!("The server's certificate is not for the address {url} ({detail}); nothing was sent. Use the server name written in its certificate (ask IT), e.g. https://sync.hospital:8443.")
                }
            }
            SyncError::CertificateExpired(detail) => {
                if zh {
                    format!("服务器证书已过期或尚未生效（{detail}），没有连接。请先检查本机的日期和时间；时间正确的话，请信息科更新服务器证书。")
                } else {
                    format!("The server's certificate has expired or is not valid yet ({detail}); nothing was sent. Check this computer's date and time; if they are right, ask IT to renew the server's certificate.")
                }
            }
            SyncError::NotHttps(url) => {
                if zh {
                    format!("{url} 上的服务器不支持 https。请检查地址和端口；本机上的服务器可以用 http://。")
                } else {
                    format!("The server at {url} does not speak https. Check the address and port; a server on this computer may be reached with http://.")
                }
            }
            SyncError::StartAfresh => {
                if zh {
                    "本机已把自己的全部记录重新发给服务器。本机是从服务器快照开始的，而服务器已回到较旧的备份，所以本机需要重新开始：请停止在本机记账，等下一次同步发出最后的记录后，由管理员在服务器上停用本机（medledger node revoke 本机站点代码）并为同一站点代码生成注册码，然后用新的数据库文件注册本机。".into()
                } else {
                    "This workstation has sent all its records to the server again. It started from a snapshot of the server, which has since gone back to an older backup, so it must start afresh: stop posting here; once a sync has sent the last records, an administrator revokes it on the server (medledger node revoke SITE), makes an enrolment code for the same site, and this workstation enrols with a new database file.".into()
                }
            }
            SyncError::Ledger(e) => e.message(lang),
        }
    }
}

fn tls_file_message(path: &str, role: TlsFileRole, problem: &TlsFileProblem, zh: bool) -> String {
    let what = match (role, zh) {
        (TlsFileRole::Certificate, true) => "服务器证书文件（--tls-cert）",
        (TlsFileRole::Certificate, false) => "The server certificate file (--tls-cert)",
        (TlsFileRole::Key, true) => "服务器私钥文件（--tls-key）",
        (TlsFileRole::Key, false) => "The server key file (--tls-key)",
        (TlsFileRole::Ca, true) => "CA 证书文件（--ca）",
        (TlsFileRole::Ca, false) => "The CA certificate file (--ca)",
    };
    let max_kib = crate::tls::TLS_FILE_MAX_BYTES / 1024;
    match (problem, zh) {
        (TlsFileProblem::Unreadable(e), true) => format!("{what} {path} 无法读取（{e}）。请检查路径和权限。"),
        (TlsFileProblem::Unreadable(e), false) => format!("{what} {path} cannot be read ({e}). Check the path and permissions."),
        (TlsFileProblem::TooLarge, true) => format!("{what} {path} 太大（最多 {max_kib} KiB），不像证书或私钥。"),
        (TlsFileProblem::TooLarge, false) => format!("{what} {path} is too large (at most {max_kib} KiB) to be a certificate or key."),
        (TlsFileProblem::NotPem(found), true) => match role {
            TlsFileRole::Key => format!("{what} {path} 不是 PEM 格式的私钥（{found}）。需要以 -----BEGIN PRIVATE KEY----- 开头的文件。"),
            _ => format!("{what} {path} 不是 PEM 格式的证书（{found}）。需要以 -----BEGIN CERTIFICATE----- 开头的文件。"),
        },
        (TlsFileProblem::NotPem(found), false) => match role {
            TlsFileRole::Key => format!("{what} {path} is not a PEM private key ({found}). It should start with -----BEGIN PRIVATE KEY-----."),
            _ => format!("{what} {path} is not a PEM certificate ({found}). It should start with -----BEGIN CERTIFICATE-----."),
        },
        (TlsFileProblem::NotOnlyCertificates, true) => format!("{what} {path} 里除了证书还有别的内容（例如私钥）。只给出 CA 证书，私钥不要离开服务器。"),
        (TlsFileProblem::NotOnlyCertificates, false) => format!("{what} {path} holds more than certificates (a private key?). Give the CA certificate only; private keys stay on the server."),
        (TlsFileProblem::Unusable(e), true) => format!("{what} {path} 无法使用（{e}）。"),
        (TlsFileProblem::Unusable(e), false) => format!("{what} {path} cannot be used ({e})."),
        (TlsFileProblem::KeyMismatch, true) => format!("私钥 {path} 与服务器证书不匹配。请给出为这张证书生成的私钥。"),
        (TlsFileProblem::KeyMismatch, false) => format!("The private key {path} does not belong to the server certificate. Give the key the certificate was made for."),
    }
}
