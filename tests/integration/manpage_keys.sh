# The man page's CONFIGURATION section lists exactly the keys the config
# loader accepts (its key tables in agent/config/config.c), so neither can
# change without the other.
set -euo pipefail
src=${TRIPLINE_SOURCE_DIR:?}
python3 - "$src/agent/config/config.c" "$src/packaging/tripline.1" <<'PY'
import re, sys
code, man = (open(p).read() for p in sys.argv[1:3])
# Where each key table sits in the YAML tree. A new table must be added here.
prefix = {"config_keys": "", "spool_keys": "spool.", "sinks_keys": "sinks.",
          "service_keys": "sinks.service.", "alertmanager_keys": "sinks.alertmanager.",
          "limits_keys": "limits.", "tls_keys": "tls.", "vantage_keys": "vantages[].",
          "peers_keys": "peers.", "peer_url_keys": "peers.urls[].", "endpoint_keys": "endpoint."}
loader, errors = set(), []
for name, body in re.findall(r"static const struct yu_key (\w+)\[\] = \{(.*?)\n\};", code, re.S):
    if name not in prefix:
        errors.append(f"key table {name} is new: add its place to this test and its keys to tripline.1")
        continue
    loader |= {prefix[name] + k for k in re.findall(r'\{"([a-z_]+)",\s*YU_', body)}
if len(loader) < 20:
    errors.append(f"only {len(loader)} keys found in config.c: has the table syntax changed?")
# a key that only holds a mapping of other keys is not listed itself
loader = {k for k in loader if not any(p == k + "." for p in prefix.values())}
section = man.split(".SH CONFIGURATION", 1)[1].split("\n.SH ", 1)[0]
listed = set(re.findall(r"^\.TP\n\.B (\S+)$", section, re.M))
for k in sorted(loader - listed): errors.append(f"tripline.1 CONFIGURATION lacks {k}")
for k in sorted(listed - loader): errors.append(f"tripline.1 CONFIGURATION lists {k}, which the loader does not accept")
if errors:
    print("\n".join(errors)); sys.exit(1)
print(f"ok: {len(listed)} keys")
PY
