//! The sample customers of `data/customers.json`, loaded into an empty store on request.

/// The sample customers, as JSON; `service_kit::seed::parse` reads them.
pub const SAMPLE: &str = include_str!("../data/customers.json");

#[cfg(test)]
mod tests {
    #[test]
    fn the_sample_data_parses() {
        assert!(
            service_kit::seed::parse::<crate::domain::Customer>(super::SAMPLE)
                .unwrap()
                .len()
                >= 10
        );
    }
}
