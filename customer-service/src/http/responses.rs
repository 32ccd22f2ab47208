//! The errors each route answers with, as sets of entries of the code table: the runtime
//! answers and these documented responses come from the same entries.

use service_kit::codes::{
    BY_ID, CONDITIONAL, CONTENDED, DEPENDENCY_UNAVAILABLE, GUARDED, IDEMPOTENT, JSON_BODY, QUERY,
};
use service_kit::error_responses;

use crate::error::EMAIL_TAKEN;

error_responses! {
    /// Reading one customer.
    pub OneCustomerErrors = [GUARDED, BY_ID];
    /// Deleting a customer.
    pub DeleteErrors = [GUARDED, BY_ID, CONTENDED, CONDITIONAL];
    /// Creating a customer.
    pub CreateErrors = [GUARDED, JSON_BODY, IDEMPOTENT, &[EMAIL_TAKEN]];
    /// Changing a customer.
    pub UpdateErrors = [GUARDED, BY_ID, JSON_BODY, CONTENDED, CONDITIONAL, &[EMAIL_TAKEN]];
    /// Listing customers.
    pub ListErrors = [GUARDED, QUERY];
    /// `GET /ready`.
    pub ReadyErrors = [&[DEPENDENCY_UNAVAILABLE]];
}
