//! Rules for URLs the platform stores and later sends customers or calls.

/// A link target: an absolute https URL (http only to this machine).
pub fn check_target(s: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(s).map_err(|_| "an absolute URL".to_owned())?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    if s.len() > 2048 {
        return Err("at most 2048 characters".into());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if local => Ok(()),
        _ => Err("an https URL".into()),
    }
}
