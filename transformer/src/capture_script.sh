#!/bin/sh
# Captures a Qualys subscription's configuration as the XML export `qmig-transform` reads.
# Written by `qmig-transform capture-script`: the calls below are generated from the table the
# transformer reads exports with (transformer/src/capture_script.rs), so read them before the
# first run. Only curl talks to the API; every call is a read (list or export).
#
# Usage: capture.sh [--target] [--page-size N] [--config FILE | --netrc FILE | --user LOGIN]
#                   API_URL OUT_DIR
#
#   API_URL        the API server of the subscription, e.g. https://qualysapi.qg2.apps.qualys.com
#   OUT_DIR        where the export is written, one file per response; created when missing
#   --target       capture the target subscription (for --target-export and reconcile): skips
#                  what only the source's capture needs (subscription configuration, user
#                  preferences)
#   --page-size N  records a page of the lists that take `truncation_limit`, and tags a page of
#                  the tag search (at most 1000; default: Qualys's own page sizes, tags 1000)
#   --config FILE  a curl config file holding `user = "LOGIN:PASSWORD"` (mode 600)
#   --netrc FILE   a netrc file for the API host (mode 600)
#   --user LOGIN   the API user's login; the password is asked for (never on the command line)
#
# Without --config or --netrc, the login and password are asked for and kept in a temporary
# curl config file (mode 600) removed on exit. No credential is ever put on a command line.
#
# A re-run resumes: complete files are kept (each is written under a hidden temporary name and
# renamed when the response is complete and not an error), only what is missing is fetched.
# An error response, an HTTP failure or an unexpected document stops the script with a message
# and keeps nothing of that response. A call blocked by the rate or concurrency limit (HTTP 409)
# is retried after the X-RateLimit-ToWait-Sec the response gives.

set -u

REQUESTED_WITH='X-Requested-With: qmig capture'
# Attempts of one call blocked by the limits before the script gives up (re-run to resume).
MAX_BLOCKED=10
# Seconds to wait on a 409 that names no X-RateLimit-ToWait-Sec.
BLOCKED_FALLBACK_WAIT=60
# The most tags a QPS search returns at once.
TAG_PAGE_MAX=1000

die() {
  printf 'capture: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '7,8p' "$0" | sed 's/^# *//' >&2
  exit 2
}

side=source
page_size=
config=
netrc=
login=
while [ $# -gt 0 ]; do
  case $1 in
    --target) side=target ;;
    --page-size)
      [ $# -ge 2 ] || usage
      page_size=$2
      shift
      case $page_size in '' | *[!0-9]* | 0) die "--page-size takes a whole number greater than 0" ;; esac
      ;;
    --config)
      [ $# -ge 2 ] || usage
      config=$2
      shift
      ;;
    --netrc)
      [ $# -ge 2 ] || usage
      netrc=$2
      shift
      ;;
    --user)
      [ $# -ge 2 ] || usage
      login=$2
      shift
      ;;
    --help | -h) usage ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
  shift
done
[ $# -eq 2 ] || usage
api=${1%/}
out=$2
case $api in https://* | http://127.0.0.1:* | http://localhost:*) ;; *) die "API_URL must be https://... (got $api)" ;; esac
[ -z "$config" ] || [ -z "$netrc" ] || die "give --config or --netrc, not both"

command -v curl >/dev/null 2>&1 || die "curl is not installed"

# A credentials file readable by anyone but its owner is refused: it holds the password.
private_file() {
  [ -f "$1" ] || die "$1: no such file"
  if [ -n "$(find "$1" -prune \( -perm -g=r -o -perm -g=w -o -perm -o=r -o -perm -o=w \) -print)" ]; then
    die "$1 can be read or written by others than its owner: chmod 600 it"
  fi
}

umask 077
mkdir -p "$out" || die "cannot create $out"
work=$(mktemp -d "${TMPDIR:-/tmp}/qmig-capture.XXXXXX") || die "cannot create a temporary directory"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "$config" ]; then
  private_file "$config"
  auth_option=--config
  auth_file=$config
elif [ -n "$netrc" ]; then
  private_file "$netrc"
  auth_option=--netrc-file
  auth_file=$netrc
else
  if [ -z "$login" ]; then
    printf 'API login: ' >&2
    IFS= read -r login || die "no login given"
  fi
  printf 'Password for %s: ' "$login" >&2
  if [ -t 0 ]; then
    # Echo comes back even when the prompt is interrupted.
    trap 'stty echo; rm -rf "$work"' EXIT
    stty -echo
    IFS= read -r password || password=
    stty echo
    trap 'rm -rf "$work"' EXIT
    printf '\n' >&2
  else
    IFS= read -r password || password=
  fi
  [ -n "$password" ] || die "no password given"
  # curl reads `user` from this file: quotes and backslashes are escaped for its quoted string.
  # printf is a shell builtin here, so the password never appears in a process's arguments.
  auth_file=$work/curl.config
  printf '%s:%s' "$login" "$password" | sed 's/[\\"]/\\&/g; s/^/user = "/; s/$/"/' >"$auth_file"
  password=
  auth_option=--config
fi

# Every response goes through here: one POST, its headers and body kept apart, HTTP 409 waited
# out. Prints nothing; the body is in $work/body, the status in $status.
call() { # call URL [XML_BODY_FILE]
  blocked=0
  while :; do
    rm -f "$work/body" "$work/headers"
    if [ $# -ge 2 ]; then
      status=$(curl --silent --show-error --fail-with-body "$auth_option" "$auth_file" \
        --header "$REQUESTED_WITH" --header 'Content-Type: text/xml' --data-binary "@$2" \
        --dump-header "$work/headers" --output "$work/body" --write-out '%{http_code}' "$1")
    else
      status=$(curl --silent --show-error --fail-with-body "$auth_option" "$auth_file" \
        --header "$REQUESTED_WITH" --request POST \
        --dump-header "$work/headers" --output "$work/body" --write-out '%{http_code}' "$1")
    fi
    rc=$?
    if [ "$status" = 409 ] && ! grep -q '<CODE>2003</CODE>' "$work/body" 2>/dev/null; then
      blocked=$((blocked + 1))
      [ "$blocked" -lt "$MAX_BLOCKED" ] || die "$1: still blocked by the API limits after $MAX_BLOCKED attempts; run the script again later to resume"
      wait=$(tr -d '\r' <"$work/headers" | sed -n 's/^[Xx]-[Rr]ate[Ll]imit-[Tt]o[Ww]ait-[Ss]ec: *\([0-9][0-9]*\).*/\1/p' | tail -n 1)
      [ -n "$wait" ] || wait=$BLOCKED_FALLBACK_WAIT
      [ "$wait" -gt 0 ] || wait=1
      printf 'capture: blocked by the API limits (HTTP 409); waiting %s s\n' "$wait" >&2
      sleep "$wait"
      continue
    fi
    if [ "$rc" -ne 0 ]; then
      detail=$(head -c 600 "$work/body" 2>/dev/null | tr -s '\r\n\t ' ' ')
      die "$1: HTTP ${status:-error} (curl exit $rc); nothing kept. ${detail}"
    fi
    return 0
  done
}

# Values of an XML document, by record: for each element at RECORD (a path ending the element's
# path from the root, `*` for any element below it), one line of FIELD values separated by
# tabs. A FIELD is a path below the record, `.` for the record's own text, or `@name` for its
# element name. Comments and the DOCTYPE are skipped, CDATA is read as text, entities decoded.
records() { # records FILE RECORD FIELD...
  records_file=$1
  records_record=$2
  shift 2
  awk -v record="$records_record" -v fields="$*" '
    function decode(s) {
      gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&quot;/, "\"", s); gsub(/&apos;/, "\047", s)
      gsub(/&amp;/, "\\&", s)
      return s
    }
    function trim(s) { sub(/^[ \t\r\n]+/, "", s); sub(/[ \t\r\n]+$/, "", s); return s }
    function ends_with(path, suffix) {
      return path == suffix || substr(path, length(path) - length(suffix)) == "/" suffix
    }
    function is_record(path,    parent) {
      if (record !~ /\*$/) return ends_with(path, record)
      parent = substr(record, 1, length(record) - 2)
      sub(/\/[^\/]*$/, "", path)
      return ends_with(path, parent)
    }
    function enter(name,    i) {
      depth++
      stack[depth] = name
      path = (depth == 1) ? name : path "/" name
      text[depth] = ""
      if (start == 0 && is_record(path)) {
        start = depth
        for (i = 1; i <= n; i++) value[i] = ""
        value_name = name
      }
    }
    function leave(    relative, i, line) {
      if (start > 0 && depth > start) {
        relative = stack[start + 1]
        for (i = start + 2; i <= depth; i++) relative = relative "/" stack[i]
        for (i = 1; i <= n; i++) if (want[i] == relative && value[i] == "") value[i] = trim(text[depth])
      }
      if (start > 0 && depth == start) {
        line = ""
        for (i = 1; i <= n; i++) {
          if (want[i] == "@name") value[i] = value_name
          if (want[i] == ".") value[i] = trim(text[depth])
          line = line (i > 1 ? "\t" : "") value[i]
        }
        print line
        start = 0
      }
      depth--
      if (depth == 0) path = ""
      else sub(/\/[^\/]*$/, "", path)
    }
    BEGIN { RS = "<"; n = split(fields, want, " "); depth = 0; start = 0; cdata = "" }
    NR == 1 { next }
    {
      piece = $0
      if (cdata != "") { piece = cdata "<" piece; cdata = "" }
      if (substr(piece, 1, 8) == "![CDATA[") {
        end = index(piece, "]]>")
        if (end == 0) { cdata = piece; next }
        text[depth] = text[depth] substr(piece, 9, end - 9) decode(substr(piece, end + 3))
        next
      }
      if (piece ~ /^[!?]/) next
      gt = index(piece, ">")
      tag = substr(piece, 1, gt - 1)
      rest = substr(piece, gt + 1)
      if (substr(tag, 1, 1) == "/") { leave(); text[depth] = text[depth] decode(rest); next }
      name = tag
      sub(/[ \t\r\n\/].*$/, "", name)
      enter(name)
      if (tag ~ /\/$/) leave()
      text[depth] = text[depth] decode(rest)
    }
  ' "$records_file"
}

# The records of every page of the list NAME, one line each (see `records`).
list_records() { # list_records NAME RECORD FIELD...
  list_name=$1
  shift
  list_page=1
  while [ -f "$out/$(page_file "$list_name" "$list_page")" ]; do
    records "$out/$(page_file "$list_name" "$list_page")" "$@"
    list_page=$((list_page + 1))
  done
}

root_of() { # root_of FILE: the name of the document element
  awk 'BEGIN { RS = "<" } NR > 1 && /^[A-Za-z_]/ { sub(/[ \t\r\n\/>].*$/, ""); print; exit }' "$1"
}

# Stops unless $work/body is a successful answer with one of ROOTS as its root element: error
# documents are named with their code and text, never kept.
check_answer() { # check_answer WHAT ROOTS
  answer_root=$(root_of "$work/body")
  answer_error=
  case $answer_root in
    SIMPLE_RETURN) answer_error="$(records "$work/body" SIMPLE_RETURN/RESPONSE CODE TEXT | tr '\t' ' ')" ;;
    GENERIC_RETURN) answer_error="$(records "$work/body" GENERIC_RETURN/RETURN .)" ;;
    USER_OUTPUT) answer_error="$(records "$work/body" USER_OUTPUT/RETURN MESSAGE)" ;;
    USER_LIST_OUTPUT) answer_error="$(records "$work/body" USER_LIST_OUTPUT/ERROR .)" ;;
    ServiceResponse)
      answer_code=$(records "$work/body" ServiceResponse responseCode)
      [ "$answer_code" = SUCCESS ] ||
        answer_error="$answer_code $(records "$work/body" ServiceResponse/responseErrorDetails errorMessage)"
      ;;
    '') die "$1: the answer is not XML: $(head -c 300 "$work/body" | tr -s '\r\n\t ' ' ')" ;;
  esac
  [ -z "$answer_error" ] || die "$1: Qualys answered an error: $answer_error"
  for answer_expected in $2; do
    [ "$answer_root" = "$answer_expected" ] && return 0
  done
  die "$1: expected a document $2, Qualys answered $answer_root: $(head -c 300 "$work/body" | tr -s '\r\n\t ' ' ')"
}

captured_files=0
kept_files=0
summary=$work/summary

# Keeps $work/body as FILE: written under a hidden name, then renamed, so a file present under
# its name is always a complete, successful answer.
keep() { # keep FILE
  mkdir -p "$(dirname "$out/$1")" || die "cannot create the directory of $out/$1"
  part=$(dirname "$out/$1")/.$(basename "$1").part
  if ! cp "$work/body" "$part" || ! mv "$part" "$out/$1"; then
    die "cannot write $out/$1"
  fi
  captured_files=$((captured_files + 1))
}

page_file() { # page_file NAME N
  if [ "$2" -eq 1 ]; then echo "$1.xml"; else echo "$1_$2.xml"; fi
}

# The files of a list, page after page.
pages_of() { # pages_of NAME
  k=1
  while [ -f "$out/$(page_file "$1" "$k")" ]; do
    echo "$out/$(page_file "$1" "$k")"
    k=$((k + 1))
  done
}

note() { # note NAME FILES: a line of the summary
  printf '%-48s %s\n' "$1" "$2" >>"$summary"
}

# The file FILE: kept from an earlier run, or fetched from URL (POSTing the XML request
# XML_BODY_FILE, if given) and kept when the answer is a success with one of ROOTS as its root.
# Either way, its content is in $work/body.
fetch() { # fetch FILE ROOTS URL [XML_BODY_FILE]
  if [ -f "$out/$1" ]; then
    kept_files=$((kept_files + 1))
    cp "$out/$1" "$work/body"
    return 0
  fi
  if [ $# -ge 4 ]; then call "$3" "$4"; else call "$3"; fi
  check_answer "$1 ($3)" "$2"
  keep "$1"
}

# A v2 or V1 list or export: one file per page, following each truncation WARNING (CODE 1980)
# to the URL it names. PAGING is `page-size` when the call takes `truncation_limit`.
capture() { # capture NAME PAGING ROOTS PATH QUERY
  name=$1
  url="$api$4?$5"
  if [ "$2" = page-size ] && [ -n "$page_size" ]; then url="$url&truncation_limit=$page_size"; fi
  n=1
  while :; do
    file=$(page_file "$name" "$n")
    fetch "$file" "$3" "$url"
    next=$(records "$work/body" RESPONSE/WARNING CODE URL)
    case $next in
      1980"	"*) url=${next#1980	} ;;
      *) break ;;
    esac
    case $url in "$api"/*) ;; *) die "$file: the next page's URL $url is not on $api; refusing to send the credentials there" ;; esac
    n=$((n + 1))
  done
  note "$name" "$n file(s)"
}

# The QPS tag search: pages of PAGE tags, each asking for the IDs above the previous page's
# lastId while it says hasMoreRecords.
capture_qps() { # capture_qps NAME ROOTS PATH
  name=$1
  limit=${page_size:-$TAG_PAGE_MAX}
  [ "$limit" -le "$TAG_PAGE_MAX" ] || limit=$TAG_PAGE_MAX
  filter=
  last_id=
  n=1
  while :; do
    file=$(page_file "$name" "$n")
    printf '<ServiceRequest>%s<preferences><limitResults>%s</limitResults></preferences></ServiceRequest>' \
      "$filter" "$limit" >"$work/request.xml"
    fetch "$file" "$2" "$api$3" "$work/request.xml"
    more=$(records "$work/body" ServiceResponse hasMoreRecords lastId)
    case $more in
      true"	") die "$file: hasMoreRecords is true without a lastId; the next page cannot be asked for" ;;
      true"	$last_id") die "$file: lastId $last_id again; the tag search does not advance (re-run later)" ;;
      true"	"*)
        last_id=${more#true	}
        filter="<filters><Criteria field=\"id\" operator=\"GREATER\">$last_id</Criteria></filters>"
        ;;
      *) break ;;
    esac
    n=$((n + 1))
  done
  note "$name" "$n file(s)"
}

# One export per record of an earlier list (its every page): FIELD's value ends QUERY and names
# the file PREFIX<value>.
each_listed() { # each_listed LIST RECORD FIELD PREFIX ROOTS PATH QUERY
  listed_count=0
  list_records "$1" "$2" "$3" >"$work/listed"
  while read -r listed_id; do
    case $listed_id in '' | *[!0-9]*) die "$1: $3 \"$listed_id\" is not a number" ;; esac
    capture_one "$4$listed_id" "$5" "$6" "$7$listed_id"
    listed_count=$((listed_count + 1))
  done <"$work/listed"
  note "$4*" "$listed_count file(s)"
}

# A single-page export (one object): no paging, never truncated.
capture_one() { # capture_one NAME ROOTS PATH QUERY
  fetch "$1.xml" "$2" "$api$3?$4"
}

# The record type of an inventory element (AUTH_UNIX_RECORDS), as the API path names it.
auth_slug() {
  case $1 in
@@AUTH_TYPES@@
    *) return 1 ;;
  esac
}

# One list per record type the inventory names, each with its pages.
each_auth_type() { # each_auth_type INVENTORY PREFIX ROOTS PATH QUERY
  list_records "$1" 'RESPONSE/AUTH_RECORDS/*' @name >"$work/auth_types"
  while read -r auth_element; do
    auth_type=$(auth_slug "$auth_element") || die "$1: the inventory names $auth_element, a record type qmig does not know"
    capture "$2$auth_type" plain "$3" "$4$auth_type/" "$5"
  done <"$work/auth_types"
}

# The API path segment of a template type as the template list writes it; fails for the types
# without an export API (compliance, remediation, scorecard).
template_slug() {
  case $(printf '%s' "$1" | tr '[:upper:]' '[:lower:]') in
@@TEMPLATE_TYPES@@
    *) return 1 ;;
  esac
}

# The templates every subscription has are mapped by title, never created: not exported.
stock_template() { # stock_template TYPE TITLE OWNER
  [ "$3" = '@@PLATFORM_OWNER@@' ] && return 0
  case $(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')/$2 in
@@STOCK_TEMPLATES@@
    *) return 1 ;;
  esac
}

# One export per template of the list whose type has an export API, under its type's path.
each_report_template() { # each_report_template LIST PREFIX ROOTS PATH QUERY
  template_count=0
  list_records "$1" REPORT_TEMPLATE ID TEMPLATE_TYPE TITLE USER/LOGIN >"$work/templates"
  while IFS='	' read -r template_id template_type template_title template_owner; do
    case $template_id in '' | *[!0-9]*) die "$1: report template ID \"$template_id\" is not a number" ;; esac
    template_path=$(template_slug "$template_type") || continue
    stock_template "$template_type" "$template_title" "$template_owner" && continue
    capture_one "$2$template_id" "$3" "$4$template_path/" "$5$template_id"
    template_count=$((template_count + 1))
  done <"$work/templates"
  note "$2*" "$template_count file(s)"
}

printf 'capture: %s export of %s into %s\n' "$side" "$api" "$out" >&2
: >"$summary"

@@CAPTURES@@

printf '\n%s export of %s in %s:\n' "$side" "$api" "$out"
cat "$summary"
printf '%s file(s) fetched now, %s kept from an earlier run.\n' "$captured_files" "$kept_files"
if [ "$side" = target ]; then
  printf 'Give it to qmig-transform as --target-export %s, or to reconcile.\n' "$out"
else
  printf 'Transform it with: qmig-transform bundle %s --out BUNDLE_DIR ...\n' "$out"
fi
