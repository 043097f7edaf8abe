# The harnesses of tests/fuzz: seed folders (relative to the source tree), dictionary
# and, where the default 65536 is too short, the longest input. Sourced by
# tests/integration/fuzz_smoke.sh and tests/fuzz/campaign.sh.
declare -A FUZZ_SEEDS=(
    [cron]="tests/fuzz/seeds-cron" [retry_after]="tests/fuzz/seeds-retry_after"
    [jsonpath]="tests/fuzz/seeds-jsonpath" [template]="tests/fuzz/seeds-template"
    [yaml_depth]="probes/examples tests/data/broken" [probe_file]="probes/examples tests/data/broken"
    [config]="tests/data/config" [evidence]="tests/fuzz/seeds-evidence" [redact]="tests/fuzz/seeds-redact"
    [spool]="tests/fuzz/seeds-spool" [peer_request]="tests/fuzz/seeds-peer_request"
    [http_headers]="tests/fuzz/seeds-http_headers" [dns_answer]="tests/fuzz/seeds-dns_answer"
    [grpc_frame]="tests/fuzz/seeds-grpc_frame"
)
declare -A FUZZ_DICT=(
    [cron]=cron [retry_after]=http_date [jsonpath]=jsonpath [template]=template [yaml_depth]=yaml
    [probe_file]=yaml [config]=yaml [evidence]=json [redact]=json
    [spool]=spool [peer_request]=peer [http_headers]=http_headers [dns_answer]=dns [grpc_frame]=grpc
)
# the header byte cap (64 KiB) is only reached by longer inputs
declare -A FUZZ_MAXLEN=([http_headers]=131072)
