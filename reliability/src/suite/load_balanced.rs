//! Rows `balancer-instance-killed` and `balancer-rolling-restart`: two instances of each
//! service behind HAProxy (the cluster's, `a`, and a second one, `b`, whose invoice-service
//! reaches customer-service through the balancer too), with the load sent to the balancer.
//! Killing one instance of each (MongoDB frozen around the kill, so that requests are held
//! in both) may lose only the requests in flight on them; a rolling
//! restart (each instance drained at the balancer, sent SIGTERM, started again and put back)
//! must lose none. Reads right after each write, through either instance, must show it.

use std::time::Duration;

use anyhow::bail;
use serde_json::json;
use tokio::time::Instant;

use super::measure::{READ_CONNECTIONS, Tally, writes_mix};
use super::{RowResult, Suite};
use crate::balancer::{Backend, Balancer};
use crate::drive;
use crate::outcome::{Outcome, unix_ms};
use crate::procs::{Member, Proc, free_port, wait_for_health};
use crate::report::ms;

/// How long HAProxy may take to see an instance's health change.
const CHECKS_WITHIN: Duration = Duration::from_secs(15);
/// Write-then-read rounds of the cache promise across instances, over this many drafts.
const PROMISE_ROUNDS: usize = 25;
const PROMISE_DRAFTS: usize = 4;

/// The second instance of each service, and the balancer in front of both.
struct Fleet {
    balancer: Balancer,
    customers_b: Proc,
    customers_b_url: String,
    invoices_b: Proc,
    invoices_b_url: String,
}

impl Fleet {
    fn stop(&mut self) {
        self.invoices_b.kill();
        self.customers_b.kill();
        self.balancer.stop();
    }
}

/// The instances in the order a rolling restart takes them.
const ROLLING: [(&str, &str); 4] = [
    ("customers", "a"),
    ("customers", "b"),
    ("invoices", "a"),
    ("invoices", "b"),
];

impl Suite {
    pub(super) async fn balancer_instance_killed(
        &mut self,
        row: &mut RowResult,
    ) -> anyhow::Result<()> {
        let mut fleet = self.fleet().await?;
        let result = self.kill_one_of_each(row, &mut fleet).await;
        fleet.stop();
        result
    }

    pub(super) async fn balancer_rolling_restart(
        &mut self,
        row: &mut RowResult,
    ) -> anyhow::Result<()> {
        let mut fleet = self.fleet().await?;
        let result = self.restart_one_by_one(row, &mut fleet).await;
        fleet.stop();
        result
    }

    /// Starts HAProxy and the `b` instances, and waits until the balancer has all four up.
    async fn fleet(&mut self) -> anyhow::Result<Fleet> {
        let (customers_port, invoices_port) = (free_port()?, free_port()?);
        let backends = [
            Backend {
                name: "customers",
                servers: vec![("a", self.cluster.customers_port), ("b", customers_port)],
            },
            Backend {
                name: "invoices",
                servers: vec![("a", self.cluster.invoices_port), ("b", invoices_port)],
            },
        ];
        let balancer = Balancer::start(
            &backends,
            &self.settings.run_dir.join("haproxy"),
            &self.settings.logs,
        )
        .await?;
        let customers_b = self.cluster.instance(
            Member::Customers,
            "customer-service-b",
            &[("PORT", customers_port.to_string())],
        );
        let invoices_b = self.cluster.instance(
            Member::Invoices,
            "invoice-service-b",
            &[
                ("PORT", invoices_port.to_string()),
                ("CUSTOMER_SERVICE_URL", balancer.url("customers")),
            ],
        );
        let mut fleet = Fleet {
            balancer,
            customers_b,
            customers_b_url: format!("http://127.0.0.1:{customers_port}"),
            invoices_b,
            invoices_b_url: format!("http://127.0.0.1:{invoices_port}"),
        };
        let started = async {
            fleet.customers_b.start()?;
            wait_for_health(
                &mut fleet.customers_b,
                &format!("{}/health", fleet.customers_b_url),
            )
            .await?;
            fleet.invoices_b.start()?;
            wait_for_health(
                &mut fleet.invoices_b,
                &format!("{}/health", fleet.invoices_b_url),
            )
            .await?;
            for (backend, server) in ROLLING {
                fleet
                    .balancer
                    .wait_status(backend, server, "UP", CHECKS_WITHIN)
                    .await?;
            }
            anyhow::Ok(())
        }
        .await;
        if let Err(error) = started {
            fleet.stop();
            return Err(error);
        }
        Ok(fleet)
    }

    /// The 80/20 load, sent to the balancer.
    async fn drive_balanced(
        &self,
        name: &str,
        phases: &[(&str, f64)],
        fleet: &Fleet,
    ) -> anyhow::Result<crate::driver::Driver> {
        let mut spec = self.loaded_spec(name, phases, writes_mix());
        spec.invoice_url = fleet.balancer.url("invoices");
        spec.customer_url = fleet.balancer.url("customers");
        self.spawn(name, &spec).await
    }

    async fn kill_one_of_each(
        &mut self,
        row: &mut RowResult,
        fleet: &mut Fleet,
    ) -> anyhow::Result<()> {
        self.promise_across_instances(row, fleet).await?;
        let name = row.row.clone();
        let phases = [("before", 3.0), ("fault", 4.0), ("after", 4.0)];
        let driver = self.drive_balanced(&name, &phases, fleet).await?;
        // MongoDB is frozen for 0.5 s around the kill, so that requests are held in flight
        // inside both instances when it lands.
        driver.until(3.0).await;
        self.cluster.mongo.signal("STOP")?;
        driver.until(3.3).await;
        let killed = unix_ms();
        fleet.customers_b.kill();
        fleet.invoices_b.kill();
        // The signals land between `killed` and `done` (each kill waits for its exit).
        let done = unix_ms();
        // When the balancer first reports each killed instance down, from the kill.
        let balancer = &fleet.balancer;
        let taken_out = async {
            let mut out: [Option<u64>; 2] = [None, None];
            let deadline = Instant::now() + CHECKS_WITHIN;
            while out.iter().any(Option::is_none) && Instant::now() < deadline {
                for (i, backend) in ["customers", "invoices"].into_iter().enumerate() {
                    let down = out[i].is_none()
                        && balancer
                            .server(backend, "b")
                            .await
                            .is_ok_and(|(status, _)| status.starts_with("DOWN"));
                    if down {
                        out[i] = Some(unix_ms() - killed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            out
        };
        let (out_after, ()) = tokio::join!(taken_out, driver.until(3.5));
        self.cluster.mongo.signal("CONT")?;
        let report = self.finish(driver, Duration::from_secs(60)).await?;

        let tracked = &report.outcomes;
        let was_in_flight = |o: &Outcome| o.sent_ms <= done && o.answered_ms() >= killed as f64;
        let (in_flight, others): (Vec<&Outcome>, Vec<&Outcome>) =
            tracked.iter().partition(|o| was_in_flight(o));
        let lost_in_flight = in_flight.iter().filter(|o| !o.is_success()).count();
        let failed_other: Vec<&Outcome> = others.into_iter().filter(|o| !o.is_success()).collect();
        let after: Vec<&Outcome> = tracked.iter().filter(|o| o.sent_ms > done).collect();
        let Tally {
            reads,
            read_failures: reads_failed,
            ..
        } = Tally::of(&report);
        let connections = READ_CONNECTIONS;
        row.figure("killed_ms", killed);
        row.figure("kill_took_ms", done - killed);
        row.figure("taken_out_after_ms", json!(out_after));
        row.figure("in_flight_at_kill", in_flight.len());
        row.figure("lost_in_flight", lost_in_flight);
        row.figure("reads_failed", reads_failed);
        row.first_example("first_failed_not_in_flight", &failed_other);
        row.check(
            "tracked requests lost",
            format!(
                "{lost_in_flight} of the {} in flight at the kill; {} other of {} ({} sent after it)",
                in_flight.len(),
                failed_other.len(),
                tracked.len(),
                after.len()
            ),
            "none but those in flight at the kill, >= 1 in flight",
            failed_other.is_empty() && !after.is_empty() && !in_flight.is_empty(),
        );
        row.check(
            "reads through the balancer",
            format!("{reads_failed} failed of {reads}"),
            format!("<= {connections} (one in flight per connection at the kill)"),
            reads_failed <= connections as u64 && reads > 0,
        );
        let within =
            |out: Option<u64>| out.map_or_else(|| "not".to_owned(), |ms| format!("{ms} ms"));
        row.check(
            "killed instances taken out by the health checks",
            format!(
                "customers after {}, invoices after {}",
                within(out_after[0]),
                within(out_after[1])
            ),
            format!("both within {} ms of the kill", CHECKS_WITHIN.as_millis()),
            out_after.iter().all(Option::is_some),
        );
        Ok(())
    }

    async fn restart_one_by_one(
        &mut self,
        row: &mut RowResult,
        fleet: &mut Fleet,
    ) -> anyhow::Result<()> {
        let name = row.row.clone();
        let driver = self
            .drive_balanced(&name, &[("before", 2.0), ("rolling", 90.0)], fleet)
            .await?;
        driver.until(2.0).await;
        let mut restarts = Vec::new();
        let mut all_clean = true;
        for (backend, server) in ROLLING {
            let began = Instant::now();
            fleet
                .balancer
                .drain(backend, server, Duration::from_secs(5))
                .await?;
            let drained = began.elapsed();
            let proc = match (backend, server) {
                ("customers", "a") => self.cluster.proc(Member::Customers),
                ("invoices", "a") => self.cluster.proc(Member::Invoices),
                ("customers", _) => &mut fleet.customers_b,
                _ => &mut fleet.invoices_b,
            };
            let exit = proc.terminate(Duration::from_secs(10)).await?;
            let status = proc.exit_status();
            let clean = exit.is_some() && status.is_some_and(|s| s.success());
            all_clean &= clean;
            match (backend, server) {
                ("customers", "a") => self.cluster.start(Member::Customers).await?,
                ("invoices", "a") => self.cluster.start(Member::Invoices).await?,
                ("customers", _) => {
                    fleet.customers_b.start()?;
                    let url = format!("{}/health", fleet.customers_b_url);
                    wait_for_health(&mut fleet.customers_b, &url).await?;
                }
                _ => {
                    fleet.invoices_b.start()?;
                    let url = format!("{}/health", fleet.invoices_b_url);
                    wait_for_health(&mut fleet.invoices_b, &url).await?;
                }
            }
            fleet.balancer.ready(backend, server).await?;
            fleet
                .balancer
                .wait_status(backend, server, "UP", CHECKS_WITHIN)
                .await?;
            restarts.push(json!({
                "instance": format!("{backend}/{server}"),
                "drained_ms": drained.as_millis(),
                "exit_ms": exit.map(|d| d.as_millis()),
                "exit_status": status.map(|s| s.to_string()),
                "back_in_rotation_ms": began.elapsed().as_millis(),
            }));
            // A second with all four serving before the next one goes.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut driver = driver;
        driver.stop();
        let report = self.finish(driver, Duration::from_secs(60)).await?;
        let failed: Vec<&Outcome> = report.outcomes.iter().filter(|o| !o.is_success()).collect();
        let Tally {
            reads,
            read_failures: reads_failed,
            ..
        } = Tally::of(&report);
        let slowest = report
            .outcomes
            .iter()
            .map(|o| o.latency_ms)
            .fold(0.0, f64::max);
        row.figure("restarts", json!(restarts));
        row.first_example("first_failed", &failed);
        row.check(
            "tracked requests during the rolling restart",
            format!(
                "{} failed of {} (slowest {})",
                failed.len(),
                report.outcomes.len(),
                ms(slowest)
            ),
            "0 failed",
            failed.is_empty() && !report.outcomes.is_empty(),
        );
        row.check(
            "reads through the balancer",
            format!("{reads_failed} failed of {reads}"),
            "0 failed",
            reads_failed == 0 && reads > 0,
        );
        row.check(
            "each instance drained, stopped by SIGTERM and back in rotation",
            format!("{} of 4 exited 0 within 10 s", restarts.len()),
            "4 of 4",
            all_clean && restarts.len() == ROLLING.len(),
        );
        self.promise_across_instances(row, fleet).await
    }

    /// Writes through the balancer, each followed by two reads through it (which round robin
    /// sends to both instances): every read must show the write it follows.
    async fn promise_across_instances(
        &mut self,
        row: &mut RowResult,
        fleet: &Fleet,
    ) -> anyhow::Result<()> {
        let Some(customer) = self.customers.first().cloned() else {
            bail!("no seeded customer");
        };
        let url = fleet.balancer.url("invoices");
        let tag = format!("{}-{}-promise", self.tag, row.row);
        let mut drafts = Vec::new();
        for i in 0..PROMISE_DRAFTS {
            let body = drive::invoice_body(&customer, "rk", &format!("{tag}-{i}"));
            let response = self
                .http
                .post(format!("{url}/invoices"))
                .json(&body)
                .send()
                .await?;
            if !response.status().is_success() {
                bail!(
                    "creating a draft through the balancer: {}",
                    response.status()
                );
            }
            let created: serde_json::Value = response.json().await?;
            let Some(id) = created["id"].as_str() else {
                bail!("a created draft without an id");
            };
            drafts.push(id.to_owned());
        }
        let (mut reads, mut stale, mut hits) = (0, 0, 0);
        let mut first_stale = None;
        for round in 0..PROMISE_ROUNDS {
            for (i, id) in drafts.iter().enumerate() {
                let written = format!("{tag}-{i}-w{round}");
                let patch = json!({"metadata": {"rk": format!("{tag}-{i}"), "rw": written}});
                let response = self
                    .http
                    .patch(format!("{url}/invoices/{id}"))
                    .json(&patch)
                    .send()
                    .await?;
                if !response.status().is_success() {
                    bail!("a patch through the balancer: {}", response.status());
                }
                for _ in 0..2 {
                    let response = self.http.get(format!("{url}/invoices/{id}")).send().await?;
                    let hit = response
                        .headers()
                        .get("x-cache")
                        .is_some_and(|v| v.as_bytes() == b"HIT");
                    let read: serde_json::Value = response.json().await?;
                    reads += 1;
                    hits += usize::from(hit);
                    if read["invoice"]["metadata"]["rw"] != written.as_str() {
                        stale += 1;
                        first_stale
                            .get_or_insert_with(|| format!("{id}: wrote {written}, read {read}"));
                    }
                }
            }
        }
        row.figure("promise_reads", reads);
        row.figure("promise_hits", hits);
        if let Some(example) = first_stale {
            row.figure("promise_first_stale", example);
        }
        row.check(
            "reads after each write, through either instance",
            format!("{stale} stale of {reads} ({hits} cache hits)"),
            "0 stale",
            stale == 0 && reads > 0,
        );
        Ok(())
    }
}
