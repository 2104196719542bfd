# The helpers every benchmark script shares, sourced after test/cluster.sh:
# psql that stops at the first error, the time now, and the median of the
# numbers read one per line.
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
