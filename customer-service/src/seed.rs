//! The sample customers of `data/customers.json`, loaded into an empty store on request.

use crate::domain::Customer;

const SAMPLE: &str = include_str!("../data/customers.json");

pub fn sample_customers() -> anyhow::Result<Vec<Customer>> {
    service_kit::seed::parse(SAMPLE)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sample_data_parses() {
        assert!(super::sample_customers().unwrap().len() >= 10);
    }
}
