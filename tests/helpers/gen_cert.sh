# gen_cert.sh -- a throw-away certificate authority and one server
# certificate signed by it, for the STARTTLS scenarios.  Source it:
#
#   . "$TOP/tests/helpers/gen_cert.sh"
#   gen_cert DIR [NAME...]
#
# writes DIR/ca.pem, DIR/ca.key, DIR/server.pem, DIR/server.key.  The server
# certificate names localhost, 127.0.0.1, ::1 and every NAME given (a name
# that looks like an address becomes an IP entry).  Keys are EC P-256 so
# generation takes milliseconds; nothing outlives the test's directory.

gen_cert() {
	_gd=$1; shift
	mkdir -p "$_gd"
	_san="DNS:localhost,IP:127.0.0.1,IP:::1"
	for _n in "$@"; do
		case $_n in
		*:*|[0-9]*.[0-9]*.[0-9]*.[0-9]*) _san="$_san,IP:$_n" ;;
		*) _san="$_san,DNS:$_n" ;;
		esac
	done
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-keyout "$_gd/ca.key" -out "$_gd/ca.pem" -days 2 \
		-subj "/CN=warp test CA $$" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$_gd/openssl.log" &&
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-keyout "$_gd/server.key" -out "$_gd/server.csr" \
		-subj "/CN=localhost" 2>>"$_gd/openssl.log" &&
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n' \
		"$_san" >"$_gd/server.ext" &&
	openssl x509 -req -in "$_gd/server.csr" -CA "$_gd/ca.pem" -CAkey "$_gd/ca.key" \
		-CAcreateserial -out "$_gd/server.pem" -days 2 \
		-extfile "$_gd/server.ext" 2>>"$_gd/openssl.log" ||
	{ cat "$_gd/openssl.log" >&2; return 1; }
	chmod 600 "$_gd"/*.key
}
