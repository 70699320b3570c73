//! AWS Signature Version 4 for the JSON protocol Secrets Manager speaks: every call is a
//! `POST /` with an `X-Amz-Target` header and a JSON body, so the canonical request has an
//! empty query and a fixed path. Written here (about 80 lines) rather than pulling the AWS SDK
//! (why: `aws/mod.rs`). Checked against botocore's signer by the test below.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::config::AwsCredentials;

type HmacSha256 = Hmac<Sha256>;

/// The headers to add to a signed request: `x-amz-date`, `x-amz-security-token` when the
/// credentials have a session token, and `authorization`.
pub(crate) struct SignedHeaders {
    pub amz_date: String,
    pub security_token: Option<String>,
    pub authorization: String,
}

/// One request to sign: the `host` header as it will be sent (with `:port` when not the
/// scheme's default) and the other signed headers (lower-case names).
pub(crate) struct ToSign<'a> {
    pub host: &'a str,
    pub target: &'a str,
    pub content_type: &'a str,
    pub body: &'a [u8],
    pub region: &'a str,
    pub service: &'a str,
    pub at: DateTime<Utc>,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Signs `request` with `credentials`.
pub(crate) fn sign(request: &ToSign<'_>, credentials: &AwsCredentials) -> SignedHeaders {
    let amz_date = request.at.format("%Y%m%dT%H%M%SZ").to_string();
    let date = &amz_date[..8];
    let mut headers: Vec<(&str, &str)> = vec![
        ("content-type", request.content_type),
        ("host", request.host),
        ("x-amz-date", &amz_date),
        ("x-amz-target", request.target),
    ];
    let token = credentials.session_token.as_ref().map(|t| t.as_str());
    if let Some(token) = token {
        headers.push(("x-amz-security-token", token));
    }
    headers.sort_by_key(|(name, _)| *name);
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{}\n", value.trim()))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "POST\n/\n\n{canonical_headers}\n{signed_headers}\n{}",
        hex::encode(Sha256::digest(request.body))
    );
    let scope = format!("{date}/{}/{}/aws4_request", request.region, request.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = format!("AWS4{}", credentials.secret_access_key.as_str()).into_bytes();
    for part in [date, request.region, request.service, "aws4_request"] {
        let next = hmac(&key, part.as_bytes());
        zeroize::Zeroize::zeroize(&mut key);
        key = next;
    }
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    zeroize::Zeroize::zeroize(&mut key);
    SignedHeaders {
        authorization: format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, \
             Signature={signature}",
            credentials.access_key_id
        ),
        security_token: token.map(str::to_owned),
        amz_date,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use zeroize::Zeroizing;

    use super::*;

    const SCRIPT: &str = r#"
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
req = AWSRequest(method='POST', url='http://127.0.0.1:4566/', data=b'{"SecretId":"main/company/K"}',
    headers={'Content-Type': 'application/x-amz-json-1.1',
             'X-Amz-Target': 'secretsmanager.GetSecretValue'})
req.context['timestamp'] = '20150830T123600Z'
req.headers['X-Amz-Date'] = '20150830T123600Z'
req.headers['X-Amz-Security-Token'] = 'the-session-token'
auth = SigV4Auth(Credentials('AKIDEXAMPLE', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    'the-session-token'), 'secretsmanager', 'us-east-1')
sts = auth.string_to_sign(req, auth.canonical_request(req))
print(auth.signed_headers(auth.headers_to_sign(req)) + ' ' + auth.signature(sts, req))
"#;

    /// The signature equals botocore's (AWS's Python SDK) for the same request, when the
    /// peer venv of `scripts/peers/moto.sh` is there.
    #[test]
    fn matches_botocore() {
        let Some(python) = std::env::var_os("SAKER_SECRET_PEERS_PYTHON") else {
            println!(
                "SKIPPED: SAKER_SECRET_PEERS_PYTHON is not set (source scripts/peers/moto.sh)"
            );
            return;
        };
        let out = std::process::Command::new(python)
            .args(["-c", SCRIPT])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = String::from_utf8(out.stdout).unwrap();
        let (headers, signature) = expected.trim().split_once(' ').unwrap();
        let credentials = AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Zeroizing::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: Some(Zeroizing::new("the-session-token".into())),
        };
        let signed = sign(
            &ToSign {
                host: "127.0.0.1:4566",
                target: "secretsmanager.GetSecretValue",
                content_type: "application/x-amz-json-1.1",
                body: br#"{"SecretId":"main/company/K"}"#,
                region: "us-east-1",
                service: "secretsmanager",
                at: Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap(),
            },
            &credentials,
        );
        assert_eq!(signed.amz_date, "20150830T123600Z");
        assert_eq!(
            signed.authorization,
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/secretsmanager/\
                 aws4_request, SignedHeaders={headers}, Signature={signature}"
            )
        );
    }
}
