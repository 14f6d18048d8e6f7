//! The sidecar without its inputs: the pipeline, the disk spool behind its journal and the
//! outbox's store, the outbox and the flusher, wired once from the configuration, with what
//! an earlier run left in the spool handed back (its batch files to the outbox, its log's
//! records to the pipeline).

use std::sync::Arc;
use std::time::Duration;

use cw_core::catalog::contract::Contract;
use cw_core::cost::budget::BudgetSettings;
use cw_core::cost::rules::{MetricRule, MetricRules};
use cw_core::domain::dimensions::DefaultDimensions;
use cw_core::pipeline::admission::Journal;
use cw_core::pipeline::admission::catalog::Mode as CatalogMode;
use cw_core::pipeline::memory::{Budgets, MemoryGuard, SPOOL_REPLAY_BYTES};
use cw_core::pipeline::validate::Defaults;
use cw_core::pipeline::{Pipeline, Settings};

use crate::clock::SharedClock;
use crate::config::Config;
use crate::flush::Flusher;
use crate::publish::outbox::Outbox;
use crate::publish::rate::AdaptiveRate;
use crate::publish::store::BatchStore;
use crate::spool::Spool;
use crate::telemetry::Telemetry;

pub(crate) struct Engine {
    pub pipeline: Arc<Pipeline>,
    pub outbox: Arc<Outbox>,
    pub flusher: Arc<Flusher>,
    pub rate: Arc<AdaptiveRate>,
    /// The disk spool, when configured (the flusher holds it too).
    #[cfg_attr(not(test), allow(dead_code))]
    pub spool: Option<Arc<Spool>>,
}

impl Engine {
    /// Opens the spool (if configured) and replays it into the new pipeline and outbox.
    pub fn assemble(
        config: &Config,
        telemetry: &Arc<Telemetry>,
        clock: &SharedClock,
        memory: Option<Arc<MemoryGuard>>,
    ) -> std::io::Result<Engine> {
        let dimensions = DefaultDimensions::new(&config.default_dimensions)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let (spool, replayed) = match Spool::open(&config.spool, &config.self_metrics_namespace, telemetry.clone()) {
            Ok(Some((spool, replayed))) => (Some(spool), Some(replayed)),
            Ok(None) => (None, None),
            Err(e) => {
                let dir = config.spool.dir.as_deref().unwrap_or(std::path::Path::new("")).display();
                return Err(std::io::Error::new(e.kind(), format!("spool directory {dir}: {e}")));
            }
        };
        // The log is replayed in pieces of the ceiling's share for it, not whole.
        let replay_window =
            memory.as_ref().map_or(SPOOL_REPLAY_BYTES, |g| Budgets::of(g.ceiling()).spool_replay_bytes());
        let replay_window = usize::try_from(replay_window).unwrap_or(usize::MAX);
        let (rules, catalog) = metric_rules(config);
        telemetry.cost.rules(rules.rules().iter().map(|r| r.label.clone()));
        if catalog.is_some() {
            telemetry.cost.catalog(CatalogMode::from(config.catalog_mode).label());
        }
        let settings = Settings {
            defaults: Defaults { namespace: config.namespace.clone(), dimensions },
            max_buffered: config.max_buffered_datums,
            series_warning: config.metric_series_warning,
            window_grace: config.window_grace,
            retry_after: config.flush_interval,
            rules,
            catalog,
            budget: config.cardinality.enabled.then(|| BudgetSettings {
                max_series: config.cardinality.max_series,
                max_series_per_namespace: config.cardinality.max_series_per_namespace,
                max_series_per_metric: config.cardinality.max_series_per_metric,
                series_ttl_ms: i64::try_from(config.cardinality.series_ttl.as_millis()).unwrap_or(i64::MAX),
                overflow: config.cardinality.overflow.into(),
                default_dimensions: config.default_dimensions.keys().cloned().collect(),
            }),
            memory,
        };
        let journal = spool.clone().map(|s| s as Arc<dyn Journal>);
        let pipeline = Arc::new(Pipeline::new(settings, telemetry.clone(), clock.clone(), journal));
        let store = spool.clone().map(|s| s as Arc<dyn BatchStore>);
        let outbox =
            Arc::new(Outbox::new(pipeline.buffer().clone(), telemetry.clone(), clock.clone()).with_store(store));
        if let (Some(spool), Some(mut replayed)) = (&spool, replayed) {
            outbox.push_stored(spool.replayed_batches(&mut replayed));
            spool.replay_records(replayed, clock.now_ms(), replay_window, |key, window, payload| {
                pipeline.restore(key, window, payload)
            });
        }
        let rate = Arc::new(AdaptiveRate::new(config.max_put_requests_per_second, clock.clone()));
        let flusher = Arc::new(Flusher {
            pipeline: pipeline.clone(),
            outbox: outbox.clone(),
            telemetry: telemetry.clone(),
            rate: rate.clone(),
            spool: spool.clone(),
            self_metrics_namespace: config.self_metrics_namespace.clone(),
            self_metrics: config.self_metrics.clone(),
            wait: config.shutdown_timeout,
            clock: clock.clone(),
        });
        Ok(Engine { pipeline, outbox, flusher, rate, spool })
    }
}

/// The metric rules: the catalog's dimension sets, or the `[[metrics]]` rules (never both;
/// checked when the configuration was loaded); with the catalog's contract, when there is one.
fn metric_rules(config: &Config) -> (MetricRules, Option<(Arc<Contract>, CatalogMode)>) {
    let defaults: Vec<String> = config.default_dimensions.keys().cloned().collect();
    let (rules, catalog) = match &config.catalog_loaded {
        Some(catalog) => {
            let (contract, rules) = crate::catalog::enforced(catalog, &defaults);
            (rules, Some((contract, config.catalog_mode.into())))
        }
        None => {
            let rules = config.metrics.iter().enumerate().filter_map(|(i, r)| MetricRule::new(i, r.spec()).ok());
            (rules.collect(), None)
        }
    };
    (MetricRules::new(rules, defaults), catalog)
}

/// Stops the pipeline admitting records and waits for the submissions in progress.
pub(crate) async fn close(pipeline: &Pipeline) {
    pipeline.close();
    while pipeline.busy() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
