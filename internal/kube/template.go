package kube

// manifestsTemplate is the YAML stream Manifests renders. Every value that
// comes from outside is quoted with q.
const manifestsTemplate = `{{define "meta" -}}
metadata:
  name: {{q .Name}}
{{- if .Namespace}}
  namespace: {{q .Namespace}}
{{- end}}
  labels:
{{- range .Labels}}
    {{index . 0}}: {{q (index . 1)}}
{{- end}}
{{- end -}}
{{define "selector" -}}
{{- range .Selector}}
      {{index . 0}}: {{q (index . 1)}}
{{- end}}
{{- end -}}
# kmirror workers for {{q .Source}}, made by "kmirror deploy kubernetes".
# They replace the KafkaMirrorMaker2's Connect pods: set its spec.replicas
# to 0 (kmirror takes over once MM2's Connect group is empty). The
# Kubernetes guide (docs/kubernetes.md) walks through it.
#
# The configuration: the KafkaMirrorMaker2 resource as it is. kmirror reads
# it, with the secrets it names mounted below.
apiVersion: v1
kind: ConfigMap
{{template "meta" .}}
data:
  {{.ConfigKey}}: |
{{- range .Document}}
    {{.}}
{{- end}}
---
apiVersion: apps/v1
kind: Deployment
{{template "meta" .}}
spec:
  replicas: {{.Replicas}}
  selector:
    matchLabels:
{{- template "selector" .}}
  # A new worker joins and takes its partitions over before an old one
  # leaves; each partition moves with its progress, exactly.
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
{{- range .Labels}}
        {{index . 0}}: {{q (index . 1)}}
{{- end}}
      annotations:
        # A changed configuration rolls the workers.
        kmirror.io/config-sha256: {{q .ConfigHash}}
    spec:
{{- if .ServiceAccountToken}}
      # The service account's token is an OAuth access token
      # (accessTokenLocation); kmirror never talks to the Kubernetes API.
      automountServiceAccountToken: true
{{- else}}
      # kmirror talks to Kafka only, never to the Kubernetes API.
      automountServiceAccountToken: false
{{- end}}
      enableServiceLinks: false
      # SIGTERM: stop fetching, wait for acknowledgements, persist the
      # progress, leave the group ({{.StopTimeout}} s at most).
      terminationGracePeriodSeconds: {{.Grace}}
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: kmirror
          image: {{q .Image}}
          args:
{{- range .Args}}
            - {{q .}}
{{- end}}
          env:
            # The collector works harder near the limit instead of
            # letting the kernel kill the worker.
            - name: GOMEMLIMIT
              value: {{q .GoMemLimit}}
{{- range .Env}}
            - name: {{.Name}}
              value: {{q .Value}}
{{- end}}
          ports:
            - name: http
              containerPort: {{.HTTPPort}}
              protocol: TCP
{{- if .Web}}
            - name: probes
              containerPort: {{.ProbesPort}}
              protocol: TCP
{{- end}}
          livenessProbe:
            httpGet:
              path: /healthz
              port: {{.ProbePort}}
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          # Ready once every flow copies the partitions it was given.
          readinessProbe:
            httpGet:
              path: /readyz
              port: {{.ProbePort}}
            periodSeconds: 5
            timeoutSeconds: 5
            failureThreshold: 3
          resources:
{{- range .Memory.Why}}
            # {{.}}
{{- end}}
            requests:
              cpu: 500m
              memory: {{.MemoryLimit}}
            limits:
              memory: {{.MemoryLimit}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities:
              drop:
                - ALL
          volumeMounts:
            - name: config
              mountPath: {{q .ConfigDir}}
              readOnly: true
{{- range .Secrets}}
            - name: {{.Volume}}
              mountPath: {{q .Path}}
              readOnly: true
{{- end}}
{{- if .Web}}
            - name: web
              mountPath: {{q .WebDir}}
              readOnly: true
{{- end}}
      volumes:
        - name: config
          configMap:
            name: {{q .Name}}
{{- range .Secrets}}
        - name: {{.Volume}}
          secret:
            secretName: {{q .Secret}}
{{- end}}
{{- if .Web}}
        - name: web
          secret:
            secretName: {{q .Web}}
{{- end}}
---
# Node drains and upgrades take one worker at a time; the others take its
# partitions over.
apiVersion: policy/v1
kind: PodDisruptionBudget
{{template "meta" .}}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
{{- template "selector" .}}
---
# The status page, the status API and the metrics:
# kubectl port-forward service/{{.Name}} {{.HTTPPort}}
apiVersion: v1
kind: Service
{{template "meta" .}}
spec:
  selector:
{{- range .Selector}}
    {{index . 0}}: {{q (index . 1)}}
{{- end}}
  ports:
    - name: http
      port: {{.HTTPPort}}
      targetPort: http
      protocol: TCP
---
# Prometheus Operator: scrape every worker (deploy/grafana and
# deploy/prometheus have the dashboard and the alerts).
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
{{template "meta" .}}
spec:
  # job="kmirror", as the alerts in deploy/prometheus expect.
  jobLabel: app.kubernetes.io/name
  selector:
    matchLabels:
{{- template "selector" .}}
  podMetricsEndpoints:
    - port: http
      path: /metrics
{{- if .Web}}
      scheme: https
      # The Secret {{q .Web}} holds, besides the web configuration, what
      # Prometheus shows: a user of its basic_auth_users and the password,
      # and the CA of its certificate, made for the name below.
      basicAuth:
        username:
          name: {{q .Web}}
          key: username
        password:
          name: {{q .Web}}
          key: password
      tlsConfig:
        ca:
          secret:
            name: {{q .Web}}
            key: ca.crt
        serverName: {{q .Name}}
{{- end}}
`
