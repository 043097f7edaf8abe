# usage: ovbench.sh N  (N one-step probes every 1 s against hostile_server /ok)

B=/work/h-overload/build; N=$1; W=$(mktemp -d)
$B/hostile_server >$W/fx.out 2>/dev/null & FX=$!
for _ in $(seq 50); do grep -q http= $W/fx.out && break; sleep 0.1; done
P=$(sed -n 's/.*http=\([0-9]*\).*/\1/p' $W/fx.out)
for i in $(seq $N); do printf -- '- probe: p%s\n  schedule: {every: 1s, timeout: 2s}\n  steps: [{name: get, request: {url: "http://127.0.0.1:%s/ok"}}]\n' $i $P; done >$W/p.yaml
printf 'limits: {concurrency: 64, per_host: 64}\n' >$W/a.yaml
taskset -c 0 $B/tripline run --config $W/a.yaml --listen 127.0.0.1:0 --spool-dir $W/sp $W/p.yaml >/dev/null 2>$W/log & A=$!
for _ in $(seq 100); do PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' $W/log | head -1); [ -n "$PORT" ] && break; sleep 0.1; done
sleep 10
curl -s 127.0.0.1:$PORT/metrics | grep -E '^tripline_(runs_skipped_total|agent_faults_total|probe_runs_total|probe_failures_total)' | awk '{split($1,a,"{"); k=a[1]; if ($1 ~ /reason|bucket/) k=$1; s[k]+=$2} END {for (k in s) print k, s[k]}'
kill $A $FX; wait $A 2>/dev/null || true; rm -rf $W
