# gen_cert.sh -- throw-away certificate authorities and server
# certificates for the STARTTLS scenarios.  Source it:
#
#   . "$TOP/tests/helpers/gen_cert.sh"
#   gen_cert DIR [NAME...]
#       a new CA in DIR (ca.pem, ca.key) and DIR/server.pem + server.key
#       signed by it, naming localhost, 127.0.0.1, ::1 and every NAME
#   gen_server_cert DIR BASE NAME...
#       one more certificate signed by the CA in DIR, naming only the
#       NAMEs given: DIR/BASE.pem, DIR/BASE.key
#
# A NAME that looks like an address becomes an IP entry.  Keys are EC
# P-256 so generation takes milliseconds; nothing outlives the test's
# directory.

gen_server_cert() {
	_gd=$1 _gb=$2; shift 2
	_san=""
	for _n in "$@"; do
		case $_n in
		*:*|[0-9]*.[0-9]*.[0-9]*.[0-9]*) _e="IP:$_n" ;;
		*) _e="DNS:$_n" ;;
		esac
		_san="${_san:+$_san,}$_e"
	done
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-keyout "$_gd/$_gb.key" -out "$_gd/$_gb.csr" \
		-subj "/CN=$1" 2>>"$_gd/openssl.log" &&
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n' \
		"$_san" >"$_gd/$_gb.ext" &&
	openssl x509 -req -in "$_gd/$_gb.csr" -CA "$_gd/ca.pem" -CAkey "$_gd/ca.key" \
		-CAcreateserial -out "$_gd/$_gb.pem" -days 2 \
		-extfile "$_gd/$_gb.ext" 2>>"$_gd/openssl.log" ||
	{ cat "$_gd/openssl.log" >&2; return 1; }
	chmod 600 "$_gd/$_gb.key"
}

gen_cert() {
	_gcd=$1; shift
	mkdir -p "$_gcd"
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-keyout "$_gcd/ca.key" -out "$_gcd/ca.pem" -days 2 \
		-subj "/CN=warp test CA $$ $(basename "$_gcd")" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$_gcd/openssl.log" ||
	{ cat "$_gcd/openssl.log" >&2; return 1; }
	chmod 600 "$_gcd/ca.key"
	gen_server_cert "$_gcd" server localhost 127.0.0.1 ::1 "$@"
}
