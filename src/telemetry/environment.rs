//! `[environment]` in `/metrics`: what each detector came to at startup, and how many
//! dimensions it added.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use cw_core::environment::Detector;
use cw_core::reasons::DetectOutcome;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DetectorOutcome {
    detector: &'static str,
    outcome: &'static str,
}

#[derive(Default)]
pub(crate) struct Environment {
    detections: Family<DetectorOutcome, Counter>,
    dimensions: Gauge,
    missing: Counter,
}

impl Environment {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "environment_detections",
            "Environment detectors run at startup, by detector and outcome",
            self.detections.clone(),
        );
        registry.register(
            "environment_dimensions",
            "Dimensions the environment added to every record",
            self.dimensions.clone(),
        );
        registry.register(
            "environment_dimensions_missing",
            "Mapped environment dimensions left out: no detector gave their attribute a value",
            self.missing.clone(),
        );
        for d in Detector::ALL {
            for o in DetectOutcome::ALL {
                drop(self.detections.get_or_create(&DetectorOutcome { detector: d.name(), outcome: o.label() }));
            }
        }
    }

    pub fn detected(&self, detector: Detector, outcome: DetectOutcome) {
        self.detections.get_or_create(&DetectorOutcome { detector: detector.name(), outcome: outcome.label() }).inc();
    }

    pub fn set_dimensions(&self, added: usize, missing: usize) {
        self.dimensions.set(added as i64);
        self.missing.inc_by(missing as u64);
    }
}
