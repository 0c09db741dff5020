//! Transport: queue record and job dispatch, the HTTP routers, and the Lambda adapters. Errors of the
//! use cases become HTTP statuses or queue retries here and nowhere else.

pub mod http;
pub mod jobs;
pub mod lambda;
pub mod pipeline;
