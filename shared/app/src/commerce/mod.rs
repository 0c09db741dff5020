//! Selling: catalog and stock, orders and their lifecycle, fulfilment, payment links and the reminders
//! of unpaid orders and abandoned carts, promotions.

pub mod catalog;
pub mod catalog_sync;
pub mod fulfilment;
pub mod orders;
pub mod payment_links;
pub mod promotions;
pub mod reminders;
pub mod sat_catalog;
pub mod sheets;
