//! Merchants and their customers: merchant profile and settings, payment and webhook settings,
//! customers and their consent, the conversation store, media, and the merchant's webhook events.

pub mod consent;
pub mod conversation;
pub mod customers;
pub mod hooks;
pub mod media;
pub mod merchants;
pub mod messages;
pub mod notification_settings;
pub mod payment_settings;
pub mod privacy;
pub mod settings;
pub mod staff;
pub mod tell;
