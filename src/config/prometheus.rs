//! What the two Prometheus sections share. `[scrape]` and `[remote_write]` both publish
//! Prometheus series, under the same rules: they are written with [`prometheus_section!`],
//! which gives each the same keys (`namespace`, `include`, `exclude`, `exclude_runtime`,
//! `drop_labels`, `keep_labels`), defined once here with their rules, between the section's
//! own keys; [`list`] is how a list of names is read in the file, env and flags.

use serde::de::Deserializer;

use super::human;

/// A Prometheus section: its own leading keys, the shared label-rule keys, its own trailing
/// keys. `include` names what the patterns match, as the two inputs match differently.
///
/// ```ignore
/// prometheus_section! {
///     /// Prometheus remote-write 1.0.
///     pub struct RemoteWriteConfig, namespace "of remote-written metrics", include "...",
///     {
///         /// A key before the shared ones.
///         pub enabled: bool = true,
///     } {
///         /// A key after them.
///         pub max_series: usize = 100_000,
///     }
/// }
/// ```
macro_rules! prometheus_section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident, namespace $of:literal, include $include:literal,
        { $($(#[$lead_meta:meta])* pub $lead:ident: $lead_ty:ty = $lead_default:expr,)* }
        { $($(#[$field_meta:meta])* pub $field:ident: $ty:ty = $default:expr,)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $($(#[$lead_meta])* pub $lead: $lead_ty,)*
            #[doc = concat!("Namespace ", $of, "; the global `namespace` when unset.")]
            #[serde(deserialize_with = "crate::config::listener::namespace", skip_serializing_if = "Option::is_none")]
            pub namespace: Option<String>,
            #[doc = concat!("Glob patterns (`*`, `?`) ", $include, "...")]
            #[serde(deserialize_with = "crate::config::prometheus::list")]
            pub include: Vec<String>,
            /// ...and none of these (nor the runtime families, unless `exclude_runtime = false`) does.
            #[serde(deserialize_with = "crate::config::prometheus::list")]
            pub exclude: Vec<String>,
            /// Exclude the runtime families client libraries expose (`go_*`, `process_*`,
            /// `python_gc_*`, `python_info`, `promhttp_*`).
            #[serde(deserialize_with = "crate::config::listener::boolean")]
            pub exclude_runtime: bool,
            /// Labels removed before publishing: the series they told apart become one.
            #[serde(deserialize_with = "crate::config::prometheus::list")]
            pub drop_labels: Vec<String>,
            /// When not empty, only these labels become dimensions.
            #[serde(deserialize_with = "crate::config::prometheus::list")]
            pub keep_labels: Vec<String>,
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    $($lead: $lead_default,)*
                    namespace: None,
                    include: vec!["*".into()],
                    exclude: Vec::new(),
                    exclude_runtime: true,
                    drop_labels: Vec::new(),
                    keep_labels: Vec::new(),
                    $($field: $default,)*
                }
            }
        }

        impl $name {
            /// The exclusions in force: the configured ones and, unless turned off, the
            /// runtime ones.
            pub fn excluded(&self) -> Vec<String> {
                let mut exclude = self.exclude.clone();
                if self.exclude_runtime {
                    exclude.extend(cw_core::ingest::prometheus::rules::RUNTIME_EXCLUDES.iter().map(|s| s.to_string()));
                }
                exclude
            }

            /// The label rules of this section; the bounds of the rules are their defaults.
            pub fn label_rules(&self) -> cw_core::ingest::prometheus::rules::Rules {
                cw_core::ingest::prometheus::rules::Rules {
                    include: self.include.clone(),
                    exclude: self.excluded(),
                    drop_labels: self.drop_labels.clone(),
                    keep_labels: self.keep_labels.clone(),
                    ..Default::default()
                }
            }
        }
    };
}

pub(super) use prometheus_section;

/// A list: an array of strings (file), or `a,b,c` (env, flags; empty means none).
pub(super) fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    human::strings(d, "a list of strings, or a,b,c")
}
