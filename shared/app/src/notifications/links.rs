//! Tracked links: `GET /l/{code}` redirects to the target and counts the click once per link (each
//! link belongs to one notification, so to one recipient). Link-preview fetchers (WhatsApp's own,
//! facebookexternalhit, Twitterbot, Slackbot...) and HEAD requests get the redirect but count nothing.
//!
//! Links live outside any merchant's keys (`LINK#{code}`: the code is all a visitor has); each keeps
//! its merchant and notification so the click lands in the right counters.
//!
//! A merchant may have its links written on its own subdomain (`link_host`, e.g.
//! `https://go.banco.mx`, a CNAME to this deployment), so a bank's customer never sees a link on a
//! domain that is not the bank's. Such a host is claimed for that merchant alone: a visit to it
//! resolves only that merchant's links, so no one can bounce a bank's domain to another sender's
//! target.

use super::stats::{self, Milestone};
use crate::parties::notification_settings;
use crate::platform::error::AppError;
use crate::platform::schema;
use crate::platform::tenant::{MerchantId, TenantTable};
use crate::platform::Deps;
use chrono::{DateTime, Utc};
use mostrador_store::{Condition, Item, StoreError, TxOp, Update};

/// How long a tracked link keeps working.
pub const LINK_DAYS: i64 = 90;

/// User agents of link-preview fetchers (compared lowercase).
const BOTS: [&str; 12] = [
    "whatsapp",
    "facebookexternalhit",
    "facebookcatalog",
    "twitterbot",
    "slackbot",
    "telegrambot",
    "discordbot",
    "linkedinbot",
    "googlebot",
    "bingbot",
    "skypeuripreview",
    "applebot",
];

/// Where a merchant's tracked links are written: its own link host, or this deployment's public URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkBase {
    origin: String,
}

impl LinkBase {
    /// The merchant's `link_host` when set (already checked when stored), else `public_url`.
    pub fn new(link_host: Option<&str>, public_url: &str) -> Self {
        Self {
            origin: link_host
                .unwrap_or(public_url)
                .trim_end_matches('/')
                .to_owned(),
        }
    }

    /// The tracked link of a code.
    pub fn url(&self, code: &str) -> String {
        format!("{}/l/{code}", self.origin)
    }
}

/// The stored link (global key).
pub(crate) fn link_item(
    code: &str,
    target: &str,
    merchant: &MerchantId,
    notification: &str,
    now: DateTime<Utc>,
) -> Item {
    Item::new(&schema::link(code))
        .with("target", target)
        .with("merchant_id", merchant.as_str())
        .with("notification_id", notification)
        .with("ttl", now.timestamp() + LINK_DAYS * 86_400)
}

/// Whether a user agent is a link-preview fetcher rather than a person.
pub(crate) fn is_preview_bot(user_agent: Option<&str>) -> bool {
    let Some(ua) = user_agent else {
        return false;
    };
    let ua = ua.to_ascii_lowercase();
    BOTS.iter().any(|b| ua.contains(b))
}

/// What a visit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub target: String,
    /// True when this visit was the link's first counted click.
    pub counted: bool,
}

/// Resolves a code visited on `host` (the request's, without port) and counts a person's first
/// click; `None` for unknown or expired codes, and for another merchant's code on a claimed link host.
pub async fn visit(
    deps: &Deps,
    code: &str,
    host: Option<&str>,
    user_agent: Option<&str>,
    head: bool,
) -> Result<Option<Visit>, AppError> {
    if code.is_empty() || code.len() > 64 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(None);
    }
    let Some(link) = deps.table.get(&schema::link(code)).await? else {
        return Ok(None);
    };
    if let Some(host) = host {
        let owner = notification_settings::link_host_owner(deps.table.as_ref(), host).await?;
        if owner.is_some_and(|o| link.get_s("merchant_id") != Some(o.as_str())) {
            return Ok(None);
        }
    }
    let Some(target) = link.get_s("target").map(str::to_owned) else {
        return Ok(None);
    };
    if head || is_preview_bot(user_agent) {
        return Ok(Some(Visit {
            target,
            counted: false,
        }));
    }
    let (Some(merchant), Some(notification)) = (
        link.get_s("merchant_id")
            .and_then(|m| MerchantId::try_from(m.to_owned()).ok()),
        link.get_s("notification_id").map(str::to_owned),
    ) else {
        // A link without attribution still redirects.
        return Ok(Some(Visit {
            target,
            counted: false,
        }));
    };
    let table = TenantTable::of(deps, &merchant);
    let Some(tag) = stats::tag(&table, &notification).await? else {
        return Ok(Some(Visit {
            target,
            counted: false,
        }));
    };
    let now = deps.clock.now();
    // The link's first click: a marker written only if absent, with the link counter in the same
    // transaction. Later clicks change nothing.
    let mut ops = vec![TxOp::Put {
        item: Item::new(&schema::link_click(code))
            .with("at", now.timestamp())
            .with(
                "ttl",
                link.ttl().unwrap_or(now.timestamp() + LINK_DAYS * 86_400),
            ),
        condition: Some(Condition::NotExists),
    }];
    for key in stats::counter_keys(
        &tag.template,
        tag.campaign.as_deref(),
        tag.experiment.as_deref(),
        &tag.day,
    ) {
        ops.push(TxOp::Update {
            key: schema::in_merchant(&merchant, key),
            update: Update::new().add("link_clicks", 1),
            condition: None,
        });
    }
    let counted = match deps.table.transact(ops).await {
        Ok(()) => true,
        Err(e) if e.is_condition_failed() => false,
        Err(e) => return Err(e.into()),
    };
    if counted {
        // The notification's first click of any of its links.
        match stats::mark(&table, &tag, Milestone::Clicked, now, &[]).await {
            Ok(_) => {}
            Err(StoreError::Unavailable(why)) => {
                tracing::warn!(%why, "click not marked on the notification")
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(merchant = %merchant, notification = %notification, "tracked link clicked");
    }
    Ok(Some(Visit { target, counted }))
}
