//! `/networks…`: list, inspect, create, delete and prune, from the same library calls
//! as `strata network ls|inspect|create|rm|prune`.

use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Call;
use crate::router::Route;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use strata_containers::Containers;
use strata_images::PruneFilter;
use strata_network::NetworkOptions;
use strata_runtime::network_inspect::{find_network, list_networks};
use strata_runtime::networking;

pub enum Op {
    List,
    Inspect(String),
    Create,
    Remove(String),
    Prune,
    Connect(String),
    Disconnect(String),
}

impl Op {
    pub fn takes_body(&self) -> bool {
        matches!(self, Op::Create | Op::Connect(_) | Op::Disconnect(_))
    }
}

/// `rest`: the path after `/networks`, with its slash (empty for the list).
pub fn route(method: &Method, rest: &str) -> Option<Route> {
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let op = match (method, parts.as_slice()) {
        (&Method::GET, [""]) => Op::List,
        (&Method::POST, ["create"]) => Op::Create,
        (&Method::POST, ["prune"]) => Op::Prune,
        (&Method::GET, [id]) => Op::Inspect(id.to_string()),
        (&Method::DELETE, [id]) if !id.is_empty() => Op::Remove(id.to_string()),
        (&Method::POST, [id, "connect"]) => Op::Connect(id.to_string()),
        (&Method::POST, [id, "disconnect"]) => Op::Disconnect(id.to_string()),
        _ => return None,
    };
    Some(Route::Network(op))
}

pub fn handle(containers: &Containers<'_>, op: Op, call: &Call) -> Result<Reply, ApiError> {
    match op {
        Op::List => Ok(Reply::ok(&list_networks(containers, &call.filters()?)?)),
        Op::Inspect(name) => Ok(Reply::ok(&find_network(containers, &name)?)),
        Op::Create => create(containers, call),
        Op::Remove(name) => {
            networking::remove_network(containers, &name)?;
            Ok(Reply::empty(StatusCode::NO_CONTENT))
        }
        Op::Prune => {
            let filter = PruneFilter::parse(&call.filters()?, strata_metadata::events::now_nano())?;
            let removed = networking::prune(containers, &filter)?;
            Ok(Reply::ok(&json!({ "NetworksDeleted": removed })))
        }
        Op::Connect(network) => connect(containers, &network, call),
        Op::Disconnect(network) => {
            let request: DisconnectRequest = call.json()?;
            let record = containers.resolve(&request.container)?;
            networking::disconnect(containers, &record, &network)?;
            Ok(Reply::empty(StatusCode::OK))
        }
    }
}

/// Docker's `NetworkConnectRequest`: the container, and its endpoint's settings: an
/// IPv4 address strata takes; aliases and the rest are refused unless empty.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConnectRequest {
    container: String,
    #[serde(default)]
    endpoint_config: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DisconnectRequest {
    container: String,
}

/// `POST /networks/{id}/connect`, as `strata network connect [--ip]`.
fn connect(containers: &Containers<'_>, network: &str, call: &Call) -> Result<Reply, ApiError> {
    let request: ConnectRequest = call.json()?;
    let mut endpoint = match request.endpoint_config {
        Some(serde_json::Value::Object(map)) => map,
        _ => Default::default(),
    };
    let ipam = endpoint.remove("IPAMConfig");
    let aliases: Vec<String> = match endpoint.remove("Aliases") {
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|a| match a {
                serde_json::Value::String(a) => Ok(a),
                other => Err(ApiError::invalid(format!(
                    "EndpointConfig.Aliases must be strings, not {other}"
                ))),
            })
            .collect::<Result<_, _>>()?,
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "EndpointConfig.Aliases must be a list, not {other}"
            )))
        }
    };
    let address = |key: &str| {
        ipam.as_ref()
            .and_then(|ipam| ipam.get(key).and_then(|a| a.as_str()).map(str::to_string))
            .filter(|a| !a.is_empty())
    };
    let (ip, ip6) = (address("IPv4Address"), address("IPv6Address"));
    if let Some(serde_json::Value::Object(rest)) = &ipam {
        if let Some((field, _)) = rest
            .iter()
            .find(|(k, v)| !matches!(k.as_str(), "IPv4Address" | "IPv6Address") && !is_empty(v))
        {
            return Err(ApiError::invalid(format!(
                "EndpointConfig.IPAMConfig.{field} is not supported by strata's network connect yet; leave it unset"
            )));
        }
    }
    if let Some((field, _)) = endpoint.iter().find(|(_, v)| !is_empty(v)) {
        return Err(ApiError::invalid(format!(
            "EndpointConfig.{field} is not supported by strata's network connect yet; leave it unset"
        )));
    }
    let record = containers.resolve(&request.container)?;
    networking::connect(containers, &record, network, ip.as_deref(), ip6.as_deref(), &aliases)?;
    Ok(Reply::empty(StatusCode::OK))
}

fn is_empty(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.values().all(is_empty),
        serde_json::Value::Number(n) => n.as_f64() == Some(0.0),
        serde_json::Value::Bool(b) => !b,
    }
}

/// Docker's `NetworkCreateRequest`. Clients send every field, mostly empty; a value
/// strata cannot honour is refused by name rather than ignored.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateRequest {
    name: String,
    driver: Option<String>,
    scope: Option<String>,
    internal: bool,
    ingress: bool,
    config_only: bool,
    config_from: Option<serde_json::Value>,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
    /// Docker 28's `--ipv4=false` (an IPv6-only network); strata's networks have IPv4.
    #[serde(rename = "EnableIPv4")]
    enable_ipv4: Option<bool>,
    #[serde(rename = "IPAM")]
    ipam: Option<Ipam>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Ipam {
    driver: Option<String>,
    config: Option<Vec<IpamConfig>>,
    options: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct IpamConfig {
    subnet: Option<String>,
    #[serde(rename = "IPRange")]
    ip_range: Option<String>,
    gateway: Option<String>,
    aux_address: Option<BTreeMap<String, String>>,
}

fn create(containers: &Containers<'_>, call: &Call) -> Result<Reply, ApiError> {
    let request: CreateRequest = call.json()?;
    let options = options(request)?;
    let networks = networking::networks(containers.store());
    let record = networks.create(&mut containers.store().db(), &options)?;
    Ok(Reply::json(
        StatusCode::CREATED,
        &json!({ "Id": record.id, "Warning": "" }),
    ))
}

/// The library's options, or the first field strata does not implement, by name.
fn options(request: CreateRequest) -> Result<NetworkOptions, ApiError> {
    let ipam = request.ipam.unwrap_or_default();
    let configs = ipam.config.unwrap_or_default();
    let unsupported = [
        (
            "EnableIPv4=false (an IPv6-only network)",
            request.enable_ipv4 == Some(false),
        ),
        // Attachable is swarm's (standalone containers on an overlay): every container
        // may attach to a local bridge already, and docker-compose 1.29 asks for it.
        ("Ingress", request.ingress),
        ("ConfigOnly", request.config_only),
        ("ConfigFrom", request.config_from.is_some_and(|c| !c.is_null())),
        ("Scope", !matches!(request.scope.as_deref().unwrap_or(""), "" | "local")),
        (
            "IPAM.Driver",
            !matches!(ipam.driver.as_deref().unwrap_or(""), "" | "default"),
        ),
        ("IPAM.Options", ipam.options.is_some_and(|o| !o.is_empty())),
        // One IPv4 and one IPv6 subnet are the library's to sort and check.
        ("IPAM.Config (more than two subnets)", configs.len() > 2),
    ];
    refuse_any(&unsupported)?;
    let (mut subnets, mut gateways) = (Vec::new(), Vec::new());
    for config in configs {
        refuse_any(&[
            ("IPAM.Config.IPRange", config.ip_range.is_some_and(|r| !r.is_empty())),
            (
                "IPAM.Config.AuxAddress",
                config.aux_address.is_some_and(|a| !a.is_empty()),
            ),
        ])?;
        subnets.extend(config.subnet.filter(|s| !s.is_empty()));
        gateways.extend(config.gateway.filter(|g| !g.is_empty()));
    }
    Ok(NetworkOptions {
        name: request.name,
        driver: request.driver.unwrap_or_default(),
        subnets,
        gateways,
        ipv6: request.enable_ipv6,
        internal: request.internal,
        labels: request.labels.unwrap_or_default().into_iter().collect(),
        options: request.options.unwrap_or_default().into_iter().collect(),
    })
}

fn refuse_any(fields: &[(&str, bool)]) -> Result<(), ApiError> {
    match fields.iter().find(|(_, set)| *set) {
        Some((name, _)) => Err(ApiError::invalid(format!(
            "network create: {name} is not supported by strata; leave it at its default"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<NetworkOptions, ApiError> {
        options(serde_json::from_str(body).unwrap())
    }

    #[test]
    fn the_docker_clis_request_passes_with_its_defaults() {
        let body = r#"{"Name":"back","CheckDuplicate":true,"Driver":"bridge","Scope":"","EnableIPv6":false,
            "IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"10.91.0.0/24","Gateway":"10.91.0.1"}]},
            "Internal":false,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,
            "Options":{"com.docker.network.driver.mtu":"1400"},"Labels":{"team":"web"}}"#;
        let o = parse(body).unwrap();
        assert_eq!((o.name.as_str(), o.driver.as_str()), ("back", "bridge"));
        assert_eq!(o.subnets, ["10.91.0.0/24"]);
        assert_eq!(o.gateways, ["10.91.0.1"]);
        assert!(!o.ipv6);
        assert_eq!(o.labels, [("team".to_string(), "web".to_string())]);
        assert!(parse(r#"{"Name":"n","Options":null,"Labels":null,"IPAM":null}"#).is_ok());
    }

    #[test]
    fn fields_strata_cannot_honour_are_refused_by_name() {
        let e = parse(r#"{"Name":"n","IPAM":{"Config":[{"Subnet":"10.1.0.0/24"},{"Subnet":"fd5e::/64"},{"Subnet":"fd5f::/64"}]}}"#)
            .err()
            .unwrap();
        assert!(e.message.contains("more than two subnets"), "{}", e.message);
        let e = parse(r#"{"Name":"n","EnableIPv4":false,"EnableIPv6":true}"#)
            .err()
            .unwrap();
        assert!(e.message.contains("EnableIPv4"), "{}", e.message);
        assert!(parse(r#"{"Name":"n","EnableIPv4":true}"#).is_ok());
        let e = parse(r#"{"Name":"n","IPAM":{"Config":[{"Subnet":"10.1.0.0/24","IPRange":"10.1.0.0/25"}]}}"#)
            .err()
            .unwrap();
        assert!(e.message.contains("IPRange"), "{}", e.message);
    }

    #[test]
    fn enable_ipv6_passes_both_subnets_to_the_library() {
        let body = r#"{"Name":"six","EnableIPv6":true,"IPAM":{"Driver":"default","Config":[
            {"Subnet":"10.91.0.0/24"},{"Subnet":"fd5e:1::/64","Gateway":"fd5e:1::1"}]}}"#;
        let o = parse(body).unwrap();
        assert!(o.ipv6);
        assert_eq!(o.subnets, ["10.91.0.0/24", "fd5e:1::/64"]);
        assert_eq!(o.gateways, ["fd5e:1::1"]);
    }
}
