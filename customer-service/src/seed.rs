//! The sample customers of `data/customers.json`, loaded into an empty store on request.

use std::sync::Arc;

use crate::domain::Customer;
use crate::store::CustomerStore;

const SAMPLE: &str = include_str!("../data/customers.json");

pub fn sample_customers() -> anyhow::Result<Vec<Customer>> {
    let mut customers: Vec<Customer> = serde_json::from_str(SAMPLE)?;
    for customer in &mut customers {
        customer.version = 1;
    }
    Ok(customers)
}

/// Loads the sample customers into an empty store, in the background.
pub fn in_background(store: Arc<dyn CustomerStore>) -> anyhow::Result<()> {
    let customers = Arc::new(sample_customers()?);
    service_kit::seed::in_background("customers", move || {
        let (store, customers) = (store.clone(), customers.clone());
        async move { store.seed(&customers).await }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sample_data_parses() {
        assert!(super::sample_customers().unwrap().len() >= 10);
    }
}
