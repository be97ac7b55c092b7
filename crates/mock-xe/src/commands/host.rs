//! `host-call-plugin host-uuid= plugin= fn= [args:k=v …]` (xapi-xe.md §2.5, §3): resolves the
//! host and collects the `args:` map (legacy `args-k=` too; `args:k:file=/path` sends the
//! file's contents), then leaves the plugin run to `plugin.rs`, outside the state lock.

use super::{Ctx, Next};
use crate::errors::XeError;
use crate::plugin::PluginCall;
use crate::records::{self, Class, Obj};

pub fn call_plugin(c: &mut Ctx) -> Result<Next, XeError> {
    let uuid = c.params.required("host-uuid")?;
    let Obj::Host(h) = records::by_uuid(c.state, Class::Host, uuid)? else {
        return Err(XeError::uuid_invalid("host", uuid));
    };
    let mut args = Vec::new();
    for (k, v) in &c.params.0 {
        let Some(key) = k.strip_prefix("args:").or_else(|| k.strip_prefix("args-")) else {
            continue;
        };
        match key.strip_suffix(":file") {
            Some(real) => {
                let text = std::fs::read_to_string(v)
                    .map_err(|e| XeError::cli(format!("Failed to read file {v}: {e}")))?;
                args.push((real.to_string(), text));
            }
            None => args.push((key.to_string(), v.clone())),
        }
    }
    Ok(Next::Plugin(PluginCall {
        plugin: c.params.required("plugin")?.to_string(),
        function: c.params.required("fn")?.to_string(),
        args,
        env: c.state.hosts[h].plugin_env.0.clone(),
    }))
}
