module github.com/kmirror/kmirror

go 1.26.8

require (
	github.com/dlclark/regexp2 v1.12.0
	github.com/magiconair/properties v1.18.12
	github.com/pavlo-v-chernykh/keystore-go/v4 v4.5.0
	go.yaml.in/yaml/v3 v3.0.6
	software.sslmate.com/src/go-pkcs12 v0.7.4
)

require golang.org/x/crypto v0.51.0 // indirect
