//! The top-level `networks` and `volumes` of a compose file, and the `labels`-like
//! mappings they share with services.

use std::collections::BTreeMap;

use super::Error;
use super::model::*;
use super::node::Node;
use super::parse::Context;

pub(super) fn labels(v: &Node) -> Result<BTreeMap<String, String>, Error> {
    Ok(v.dict()?
        .into_iter()
        .map(|(k, val)| (k, val.unwrap_or_default()))
        .collect())
}

fn opts(v: &Node) -> Result<BTreeMap<String, String>, Error> {
    labels(v)
}

/// `external: true` (or compose v1's `external: {name: x}`) and `name`.
fn external_and_name(
    key: &str,
    v: &Node,
    fields: &[(String, Node)],
    cx: &Context,
) -> Result<(bool, String), Error> {
    let mut external = false;
    let mut name = None;
    for (k, n) in fields {
        match k.as_str() {
            "external" if n.is_map() => {
                external = true;
                for (ek, en) in n.fields(&["name"])? {
                    if ek == "name" {
                        name = Some(en.str()?);
                    }
                }
            }
            "external" => external = n.bool()?,
            "name" => name = Some(n.str()?),
            _ => {}
        }
    }
    let _ = v;
    let name = name.unwrap_or_else(|| {
        if external {
            key.to_string()
        } else {
            format!("{}_{key}", cx.project)
        }
    });
    Ok((external, name))
}

pub(super) fn network(key: &str, v: &Node, cx: &Context) -> Result<Network, Error> {
    let fields = v.fields(&[
        "driver",
        "driver_opts",
        "external",
        "name",
        "internal",
        "ipam",
        "labels",
        "attachable",
        "enable_ipv6",
    ])?;
    let (external, name) = external_and_name(key, v, &fields, cx)?;
    let mut net = Network {
        name,
        external,
        ..Default::default()
    };
    for (k, n) in &fields {
        match k.as_str() {
            "driver" => net.driver = n.opt_str()?,
            "driver_opts" => net.driver_opts = opts(n)?,
            "internal" => net.internal = n.bool()?,
            "labels" => net.labels = labels(n)?,
            "ipam" => {
                for (ik, iv) in n.fields(&["driver", "config", "options"])? {
                    if ik != "config" {
                        continue;
                    }
                    for c in iv.items()? {
                        for (ck, cn) in
                            c.fields(&["subnet", "gateway", "ip_range", "aux_addresses"])?
                        {
                            match ck.as_str() {
                                "subnet" => net.subnets.push(cn.str()?),
                                "gateway" => net.gateways.push(cn.str()?),
                                _ => {}
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(d) = &net.driver
        && !matches!(d.as_str(), "bridge" | "overlay")
    {
        return Err(v.err(format!("network driver {d:?} is not supported (bridge is)")));
    }
    Ok(net)
}

pub(super) fn volume(key: &str, v: &Node, cx: &Context) -> Result<Volume, Error> {
    let fields = v.fields(&["driver", "driver_opts", "external", "name", "labels"])?;
    let (external, name) = external_and_name(key, v, &fields, cx)?;
    let mut vol = Volume {
        name,
        external,
        ..Default::default()
    };
    for (k, n) in &fields {
        match k.as_str() {
            "driver" => vol.driver = n.opt_str()?,
            "driver_opts" => vol.driver_opts = opts(n)?,
            "labels" => vol.labels = labels(n)?,
            _ => {}
        }
    }
    Ok(vol)
}
