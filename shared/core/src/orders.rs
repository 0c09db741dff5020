//! An order's life: its statuses, which moves between them are allowed, and what each move does to
//! the branch's stock. The store applies the effect in the same transaction as the status change
//! (conditional on the status it moves from), so a late or repeated event changes nothing.

use serde::{Deserialize, Serialize};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingPayment,
    Paid,
    ReadyForPickup,
    Shipped,
    Delivered,
    Cancelled,
    Expired,
    Refunded,
}

/// What a move between two statuses does to the stock of the order's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockEffect {
    /// Nothing moves.
    None,
    /// The reservation lapses: reserved units go back to available (an unpaid order ends).
    Release,
    /// The reservation becomes a sale: reserved units leave the books (the order is paid).
    Commit,
    /// Sold goods still in the store go back on the shelf (refunded or cancelled before leaving).
    Restock,
}

impl OrderStatus {
    /// Every status, in the order of an order's life.
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::AwaitingPayment,
        OrderStatus::Paid,
        OrderStatus::ReadyForPickup,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
        OrderStatus::Refunded,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::ReadyForPickup => "ready_for_pickup",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            OrderStatus::Refunded => "refunded",
        }
    }

    /// The states this one may move to through the merchant API or the jobs.
    pub fn may_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (AwaitingPayment, Paid | Cancelled | Expired)
                | (
                    Paid,
                    ReadyForPickup | Shipped | Delivered | Cancelled | Refunded
                )
                | (ReadyForPickup, Delivered | Cancelled | Refunded)
                | (Shipped, Delivered | Refunded)
                | (Delivered, Refunded)
        )
    }

    /// What moving from this status to `next` does to the stock (for an allowed move).
    pub fn stock_effect(self, next: OrderStatus) -> StockEffect {
        use OrderStatus::*;
        match (self, next) {
            (AwaitingPayment, Cancelled | Expired) => StockEffect::Release,
            (AwaitingPayment, Paid) => StockEffect::Commit,
            (Paid | ReadyForPickup, Refunded | Cancelled) => StockEffect::Restock,
            _ => StockEffect::None,
        }
    }

    /// No move leaves this status.
    pub fn is_final(self) -> bool {
        OrderStatus::ALL.iter().all(|n| !self.may_become(*n))
    }

    /// The customer's words for it.
    pub fn customer_text(self) -> &'static str {
        match self {
            OrderStatus::AwaitingPayment => "esperando tu pago",
            OrderStatus::Paid => "pagado",
            OrderStatus::ReadyForPickup => "listo para recoger",
            OrderStatus::Shipped => "en camino",
            OrderStatus::Delivered => "entregado",
            OrderStatus::Cancelled => "cancelado",
            OrderStatus::Expired => "vencido",
            OrderStatus::Refunded => "reembolsado",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;

    #[test]
    fn stored_names_are_pinned_and_round_trip_through_serde() {
        let names: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "awaiting_payment",
                "paid",
                "ready_for_pickup",
                "shipped",
                "delivered",
                "cancelled",
                "expired",
                "refunded"
            ]
        );
        for s in OrderStatus::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<OrderStatus>(&json).unwrap(), s);
        }
    }

    #[test]
    fn an_unpaid_order_is_paid_cancelled_or_expires() {
        assert!(AwaitingPayment.may_become(Paid));
        assert!(AwaitingPayment.may_become(Cancelled));
        assert!(AwaitingPayment.may_become(Expired));
        // It cannot be handed over or refunded before it is paid.
        for n in [ReadyForPickup, Shipped, Delivered, Refunded] {
            assert!(!AwaitingPayment.may_become(n), "{n:?}");
        }
    }

    #[test]
    fn fulfilment_only_goes_forward() {
        assert!(Paid.may_become(ReadyForPickup));
        assert!(Paid.may_become(Shipped));
        assert!(ReadyForPickup.may_become(Delivered));
        assert!(Shipped.may_become(Delivered));
        assert!(!Delivered.may_become(Shipped));
        assert!(!Shipped.may_become(ReadyForPickup));
        assert!(!ReadyForPickup.may_become(Paid));
        assert!(!Paid.may_become(AwaitingPayment));
        // Goods on the road are not cancelled: they come back as a refund.
        assert!(!Shipped.may_become(Cancelled));
        assert!(Shipped.may_become(Refunded));
    }

    #[test]
    fn ended_orders_stay_ended() {
        for s in [Cancelled, Expired, Refunded] {
            assert!(s.is_final(), "{s:?}");
        }
        for s in [AwaitingPayment, Paid, ReadyForPickup, Shipped, Delivered] {
            assert!(!s.is_final(), "{s:?}");
        }
        for s in OrderStatus::ALL {
            assert!(!s.may_become(s), "{s:?} to itself");
        }
    }

    #[test]
    fn stock_moves_with_the_status() {
        assert_eq!(AwaitingPayment.stock_effect(Paid), StockEffect::Commit);
        assert_eq!(
            AwaitingPayment.stock_effect(Cancelled),
            StockEffect::Release
        );
        assert_eq!(AwaitingPayment.stock_effect(Expired), StockEffect::Release);
        assert_eq!(Paid.stock_effect(Refunded), StockEffect::Restock);
        assert_eq!(Paid.stock_effect(Cancelled), StockEffect::Restock);
        assert_eq!(ReadyForPickup.stock_effect(Refunded), StockEffect::Restock);
        assert_eq!(ReadyForPickup.stock_effect(Cancelled), StockEffect::Restock);
        // Once the goods left the store a refund does not put them back on the shelf.
        assert_eq!(Shipped.stock_effect(Refunded), StockEffect::None);
        assert_eq!(Delivered.stock_effect(Refunded), StockEffect::None);
        assert_eq!(Paid.stock_effect(ReadyForPickup), StockEffect::None);
        assert_eq!(Shipped.stock_effect(Delivered), StockEffect::None);
    }

    #[test]
    fn every_allowed_move_has_at_most_one_stock_effect_and_disallowed_moves_none_that_matter() {
        // The effect is only read for allowed moves; an allowed move that releases or commits
        // always starts from an unpaid order, one that restocks from a paid one still in store.
        for a in OrderStatus::ALL {
            for b in OrderStatus::ALL {
                if !a.may_become(b) {
                    continue;
                }
                match a.stock_effect(b) {
                    StockEffect::Release | StockEffect::Commit => assert_eq!(a, AwaitingPayment),
                    StockEffect::Restock => assert!(matches!(a, Paid | ReadyForPickup)),
                    StockEffect::None => {}
                }
            }
        }
    }
}
