//! Payment providers of mostrador: payment links and references, verified callbacks, re-reads and
//! refunds, behind one port. Amounts are integer centavos here; each adapter converts to its
//! provider's units (Stripe and Conekta centavos, Mercado Pago and Openpay decimal pesos).

pub mod conekta;
pub mod mercadopago;
pub mod openpay;
pub mod port;
pub mod sandbox;
pub mod stripe;
mod wire;

pub use port::*;
