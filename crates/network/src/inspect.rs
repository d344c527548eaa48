//! `network inspect`'s document, shaped like Docker's (`types.NetworkResource`), for
//! the CLI to print or template and an API server to answer with.

use crate::{host_veth, mac_for, mac_text, EndpointRecord, NetworkRecord};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpamConfig {
    #[serde(rename = "Subnet")]
    pub subnet: String,
    #[serde(rename = "Gateway")]
    pub gateway: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ipam {
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "Options")]
    pub options: Option<BTreeMap<String, String>>,
    #[serde(rename = "Config")]
    pub config: Vec<IpamConfig>,
}

/// A container attached to the network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointResource {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkResource {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Created")]
    pub created: String,
    #[serde(rename = "Scope")]
    pub scope: String,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    #[serde(rename = "Internal")]
    pub internal: bool,
    #[serde(rename = "Attachable")]
    pub attachable: bool,
    #[serde(rename = "Ingress")]
    pub ingress: bool,
    /// By container ID, sorted (as Go marshals maps).
    #[serde(rename = "Containers")]
    pub containers: BTreeMap<String, EndpointResource>,
    #[serde(rename = "Options")]
    pub options: BTreeMap<String, Value>,
    #[serde(rename = "Labels")]
    pub labels: Value,
}

fn endpoint(network: &NetworkRecord, e: &EndpointRecord, name: String) -> EndpointResource {
    let prefix = network.subnet.rsplit('/').next().unwrap_or("24");
    EndpointResource {
        name,
        endpoint_id: host_veth(&e.container_id, &network.id),
        mac_address: match e.mac.as_str() {
            "" => e.ip.parse().map(|ip| mac_text(mac_for(ip))).unwrap_or_default(),
            given => given.to_string(),
        },
        ipv4_address: format!("{}/{prefix}", e.ip),
        ipv6_address: if e.ip6.is_empty() {
            String::new()
        } else {
            let prefix6 = network.subnet6.rsplit('/').next().unwrap_or("64");
            format!("{}/{prefix6}", e.ip6)
        },
    }
}

impl NetworkResource {
    /// The document of a built-in network (`host`, `none`), which has no record.
    pub fn builtin(name: &str, driver: &str) -> Self {
        NetworkResource {
            name: name.to_string(),
            id: crate::builtin_network_id(name),
            created: "0001-01-01T00:00:00Z".into(),
            scope: "local".into(),
            driver: driver.to_string(),
            enable_ipv6: false,
            ipam: Ipam {
                driver: "default".into(),
                options: None,
                config: Vec::new(),
            },
            internal: false,
            attachable: false,
            ingress: false,
            containers: BTreeMap::new(),
            options: BTreeMap::new(),
            labels: Value::Object(Default::default()),
        }
    }

    /// The document of `network` with its `endpoints`; `name_of` gives a container's
    /// name from its ID.
    pub fn new(network: &NetworkRecord, endpoints: &[EndpointRecord], name_of: impl Fn(&str) -> String) -> Self {
        // Labels and driver options are stored together as one JSON document.
        let stored: Value =
            serde_json::from_str(&network.options).unwrap_or_else(|_| Value::Object(Default::default()));
        let mut options: BTreeMap<String, Value> = stored["Options"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        // Docker shows the bridge's name for the default network only; a user network's
        // options are the ones it was created with (compose compares them).
        if network.name == crate::DEFAULT_NETWORK {
            options.insert(
                "com.docker.network.bridge.name".into(),
                Value::from(network.bridge.clone()),
            );
        }
        NetworkResource {
            name: network.name.clone(),
            id: network.id.clone(),
            created: network.created.clone(),
            scope: "local".into(),
            driver: network.driver.clone(),
            enable_ipv6: !network.subnet6.is_empty(),
            ipam: Ipam {
                driver: "default".into(),
                options: None,
                config: std::iter::once(IpamConfig {
                    subnet: network.subnet.clone(),
                    gateway: network.gateway.clone(),
                })
                .chain((!network.subnet6.is_empty()).then(|| IpamConfig {
                    subnet: network.subnet6.clone(),
                    gateway: network.gateway6.clone(),
                }))
                .collect(),
            },
            internal: network.internal,
            attachable: false,
            ingress: false,
            containers: endpoints
                .iter()
                .map(|e| (e.container_id.clone(), endpoint(network, e, name_of(&e.container_id))))
                .collect(),
            options,
            labels: stored
                .get("Labels")
                .cloned()
                .unwrap_or_else(|| Value::Object(Default::default())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_read_like_dockers() {
        let network = NetworkRecord {
            id: "0123456789ab".into(),
            name: "back".into(),
            driver: "bridge".into(),
            subnet: "10.90.0.0/24".into(),
            gateway: "10.90.0.1".into(),
            subnet6: "fd5e:2::/64".into(),
            gateway6: "fd5e:2::1".into(),
            bridge: "br-0123456789ab".into(),
            internal: true,
            options: r#"{"Options":{"com.docker.network.driver.mtu":"1400"},"Labels":{"team":"web"}}"#.into(),
            created: "2024-01-02T10:00:00Z".into(),
        };
        let endpoints = [EndpointRecord {
            network_id: "0123456789ab".into(),
            container_id: "c1c1c1c1c1c1".into(),
            ip: "10.90.0.2".into(),
            ip6: "fd5e:2::2".into(),
            aliases: "[]".into(),
            mac: String::new(),
        }];
        let doc = serde_json::to_value(NetworkResource::new(&network, &endpoints, |id| format!("name-{id}"))).unwrap();
        assert_eq!(doc["IPAM"]["Config"][0]["Subnet"], "10.90.0.0/24");
        assert_eq!(doc["IPAM"]["Options"], Value::Null);
        assert_eq!(doc["EnableIPv6"], true);
        assert_eq!(doc["IPAM"]["Config"][1]["Subnet"], "fd5e:2::/64");
        assert_eq!(doc["IPAM"]["Config"][1]["Gateway"], "fd5e:2::1");
        assert_eq!(doc["Containers"]["c1c1c1c1c1c1"]["IPv6Address"], "fd5e:2::2/64");
        assert_eq!(doc["Containers"]["c1c1c1c1c1c1"]["Name"], "name-c1c1c1c1c1c1");
        assert_eq!(doc["Containers"]["c1c1c1c1c1c1"]["IPv4Address"], "10.90.0.2/24");
        // A user network shows the options it was made with only.
        assert_eq!(doc["Options"]["com.docker.network.bridge.name"], Value::Null);
        assert_eq!(doc["Options"]["com.docker.network.driver.mtu"], "1400");
        assert_eq!(doc["Labels"]["team"], "web");
        assert_eq!(doc["Internal"], true);
    }
}
