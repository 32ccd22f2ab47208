//! The errors each route answers with, as sets of entries of the code table: the runtime
//! answers and these documented responses come from the same entries.

use service_kit::codes::{
    BY_ID, CONDITIONAL, CONTENDED, DEPENDENCY_UNAVAILABLE, GUARDED, IDEMPOTENT, JSON_BODY, QUERY,
};
use service_kit::error_responses;

use crate::error::{CUSTOMER_NOT_FOUND, INVALID_TRANSITION};

error_responses! {
    /// Reading one invoice.
    pub ReadErrors = [GUARDED, BY_ID];
    /// Creating a draft.
    pub CreateErrors = [GUARDED, JSON_BODY, IDEMPOTENT, &[CUSTOMER_NOT_FOUND]];
    /// Editing a draft.
    pub EditErrors = [GUARDED, BY_ID, JSON_BODY, CONTENDED, CONDITIONAL, &[INVALID_TRANSITION]];
    /// A lifecycle transition.
    pub TransitionErrors = [GUARDED, BY_ID, IDEMPOTENT, CONTENDED, CONDITIONAL, &[INVALID_TRANSITION]];
    /// Deleting a draft.
    pub DeleteErrors = [GUARDED, BY_ID, CONTENDED, CONDITIONAL, &[INVALID_TRANSITION]];
    /// An invoice's PDF.
    pub DocumentErrors = [GUARDED, BY_ID];
    /// Listing invoices.
    pub ListErrors = [GUARDED, QUERY];
    /// `GET /ready`.
    pub ReadyErrors = [&[DEPENDENCY_UNAVAILABLE]];
}
