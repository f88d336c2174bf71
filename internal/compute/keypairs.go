package compute

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/gureum/gureum/internal/platform/errs"
)

// Key types (microversion 2.2).
const (
	KeyTypeSSH  = "ssh"
	KeyTypeX509 = "x509"
)

var keyNameRe = regexp.MustCompile(`^[a-zA-Z0-9 _.@-]{1,255}$`)

// CreateKeyPair imports publicKey, or generates a key pair when it is
// empty and returns the private key (shown once, never stored). Generated
// SSH keys are RSA 2048 (what nova generates and every client accepts);
// imports accept any key type OpenSSH knows (ed25519, ecdsa, rsa).
func (s *Service) CreateKeyPair(ctx context.Context, c Caller, userID, name, keyType, publicKey string) (*KeyPair, string, error) {
	if !keyNameRe.MatchString(name) || strings.TrimSpace(name) != name {
		return nil, "", errs.BadRequest("Keypair data is invalid: Keypair name contains unsafe characters")
	}
	if keyType == "" {
		keyType = KeyTypeSSH
	}
	if keyType != KeyTypeSSH && keyType != KeyTypeX509 {
		return nil, "", errs.BadRequest("Invalid input for field/attribute type. Value: %s. '%s' is not one of ['ssh', 'x509']", keyType, keyType)
	}
	if userID == "" {
		userID = c.UserID
	}
	kp := &KeyPair{UserID: userID, ProjectID: c.ProjectID, Name: name, Type: keyType, CreatedAt: s.now()}
	var private string
	var err error
	switch {
	case publicKey == "" && keyType == KeyTypeSSH:
		private, kp.PublicKey, kp.Fingerprint, err = generateSSH()
	case publicKey == "":
		private, kp.PublicKey, kp.Fingerprint, err = generateX509(name)
	case keyType == KeyTypeSSH:
		kp.PublicKey = strings.TrimSpace(publicKey)
		kp.Fingerprint, err = sshFingerprint(kp.PublicKey)
	default:
		kp.PublicKey = publicKey
		kp.Fingerprint, err = x509Fingerprint(publicKey)
	}
	if err != nil {
		return nil, "", err
	}
	if err := s.store.CreateKeyPair(ctx, kp, s.quotaLimit(ctx, c.ProjectID, QKeyPairs)); err != nil {
		return nil, "", err
	}
	return kp, private, nil
}

func generateSSH() (private, public, fingerprint string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", "", errs.Internal(err)
	}
	pub, err := ssh.NewPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", "", errs.Internal(err)
	}
	private = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	public = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " Generated-by-Nova"
	return private, public, ssh.FingerprintLegacyMD5(pub), nil
}

func generateX509(name string) (private, public, fingerprint string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", "", errs.Internal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", "", errs.Internal(err)
	}
	private = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	public = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	fp, err := x509Fingerprint(public)
	return private, public, fp, err
}

func sshFingerprint(public string) (string, error) {
	if len(public) > 16384 {
		return "", errs.BadRequest("Keypair data is invalid: public key too long")
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(public))
	if err != nil {
		return "", errs.BadRequest("Keypair data is invalid: failed to generate fingerprint")
	}
	return ssh.FingerprintLegacyMD5(pub), nil
}

func x509Fingerprint(public string) (string, error) {
	b, _ := pem.Decode([]byte(public))
	if b == nil {
		return "", errs.BadRequest("Keypair data is invalid: failed to generate fingerprint")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return "", errs.BadRequest("Keypair data is invalid: failed to generate fingerprint")
	}
	sum := sha1.Sum(cert.Raw)
	parts := make([]string, len(sum))
	for i, c := range sum {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":"), nil
}
