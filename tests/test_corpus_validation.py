"""Issue 14 class 2: the kubelet's validation of a static pod (ValidatePodCreate after
defaulting), each row with the message the kubelet logs in ``invalid pod: [...]``.

Read in kubernetes v1.35.4 as vendored by openshift-kni/scheduler-plugins@e0b47cde
(vendor/k8s.io/kubernetes/..., vendor/k8s.io/apimachinery v0.35.4/...); line numbers are those
files'. Go walks labels and resource maps in random order, so a row's messages are a set.
"""

from __future__ import annotations

from typing import Any

import yaml

from podaudit.kubelet.manifests import read_static_pod_path
from podaudit.kubelet.validation import validate_pod
from tests.corpus import Case, cases
from tests.memnode import mem_node

V = "(v1.35.4)"
VAL = "pkg/apis/core/validation/validation.go"
DEF = "pkg/apis/core/v1/defaults.go"
UTIL = "staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go"
KUBE = "staging/src/k8s.io/apimachinery/pkg/api/validate/content/kube.go"
QTY = "staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go"
META = "staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go"
APP = "  - name: app\n    image: nginx\n"
LABEL_RE = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
            "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
ENV_RE = ("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and "
          "must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for "
          "validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')")
VALUE_RE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
            "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
HOST_PATH_TYPES = '"", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"'
C0 = "spec.containers[0]"


def spec(text: str) -> dict[str, Any]:
    """A pod named p whose spec is ``text``, as the YAML decoder gives it."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": yaml.safe_load(text)}


def app(extra: str = "", pod: str = "") -> dict[str, Any]:
    """One container ``app`` (nginx) with ``extra`` container lines, and ``pod`` spec lines."""
    return spec("containers:\n" + APP + extra + pod)


def meta(**fields: Any) -> dict[str, Any]:
    return {**app(), "metadata": {"name": "p", **fields}}


VOLUMES = [
    Case("mount-of-missing-volume", f"{VAL} ValidateVolumeMounts L3105-3151 {V}",
         app("    volumeMounts: [{name: data, mountPath: /d}]\n"), {f'{C0}.volumeMounts[0].name: Not found: "data"'}),
    Case("mount-of-existing-volume", f"{VAL} ValidateVolumeMounts L3105-3151 {V}",
         app("    volumeMounts: [{name: data, mountPath: /d}]\n", "volumes: [{name: data, hostPath: {path: /srv}}]\n"),
         set()),
    Case("invalid-volume-is-left-out-of-the-map", f"{VAL} ValidateVolumes L453-496, validatePathNoBacksteps "
         f"L1420-1430 {V}",
         app("    volumeMounts: [{name: data, mountPath: /d}]\n",
             "volumes: [{name: data, hostPath: {path: /a/../b}}]\n"),
         {"spec.volumes[0].hostPath.path: Invalid value: \"/a/../b\": must not contain '..'",
          f'{C0}.volumeMounts[0].name: Not found: "data"'}),
    Case("dotdot-inside-a-name-is-fine", f"{VAL} validatePathNoBacksteps L1420-1430 {V}",
         app(pod="volumes: [{name: data, hostPath: {path: /srv/a..b/..c}}]\n"), set()),
    Case("duplicate-volume-name", f"{VAL} ValidateVolumes L453-496 {V}",
         app(pod="volumes: [{name: data, emptyDir: {}}, {name: data, emptyDir: {}}]\n"),
         {'spec.volumes[1].name: Duplicate value: "data"'}),
    Case("volume-name-not-a-label", f"{VAL} ValidateVolumes L453-496, ValidateDNS1123Label L158-164; {UTIL} "
         f"IsDNS1123Label L167-182 {V}",
         app(pod="volumes: [{name: Data_1, emptyDir: {}}]\n"),
         {f'spec.volumes[0].name: Invalid value: "Data_1": {LABEL_RE}'}),
    Case("volume-name-with-dots", f"{UTIL} IsDNS1123Label L167-182 {V}",
         app(pod="volumes: [{name: a.b, emptyDir: {}}]\n"),
         {'spec.volumes[0].name: Invalid value: "a.b": must not contain dots'}),
    Case("volume-without-name", f"{VAL} ValidateVolumes L453-496 {V}",
         app(pod="volumes: [{emptyDir: {}}]\n"), {"spec.volumes[0].name: Required value"}),
    Case("volume-without-source-is-an-emptydir", f"{DEF} SetDefaults_Volume L66-81; {VAL} validateVolumeSource "
         f"L552-814 {V}", app(pod="volumes: [{name: scratch}]\n"), set()),
    Case("host-path-type-unsupported", f"{VAL} validateHostPathType L1392-1400 {V}",
         app(pod="volumes: [{name: d, hostPath: {path: /x, type: Dir}}]\n"),
         {f'spec.volumes[0].hostPath.type: Unsupported value: "Dir": supported values: {HOST_PATH_TYPES}'}),
    Case("host-path-type-valid", f"{VAL} validateHostPathType L1392-1400 {V}",
         app(pod="volumes: [{name: d, hostPath: {path: /x, type: DirectoryOrCreate}}]\n"), set()),
    Case("host-path-without-path", f"{VAL} validateHostPathVolumeSource L816-826 {V}",
         app(pod="volumes: [{name: d, hostPath: {type: File}}]\n"), {"spec.volumes[0].hostPath.path: Required value"}),
    Case("two-volume-sources", f"{VAL} validateVolumeSource L552-814 {V}",
         app(pod="volumes: [{name: d, hostPath: {path: /x}, emptyDir: {}}]\n"),
         {"spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"}),
    Case("two-sources-misspelt-upstream-path", f"{VAL} validateVolumeSource L677-684 {V}",
         app(pod="volumes: [{name: d, emptyDir: {}, downwardAPI: {}}]\n"),
         {"spec.volumes[0].downwarAPI: Forbidden: may not specify more than 1 volume type"}),
    Case("null-source-is-not-set", f"{VAL} validateVolumeSource L552-814 {V}",
         app(pod="volumes: [{name: d, hostPath: {path: /x}, emptyDir: null}]\n"), set()),
    Case("duplicate-mount-path", f"{VAL} ValidateVolumeMounts L3105-3151 {V}",
         app("    volumeMounts: [{name: d, mountPath: /d}, {name: d, mountPath: /d}]\n",
             "volumes: [{name: d, emptyDir: {}}]\n"),
         {f'{C0}.volumeMounts[1].mountPath: Invalid value: "/d": must be unique'}),
    Case("absolute-sub-path", f"{VAL} ValidateVolumeMounts L3105-3151, validateLocalDescendingPath L1405-1414 {V}",
         app("    volumeMounts: [{name: d, mountPath: /d, subPath: /etc}]\n", "volumes: [{name: d, emptyDir: {}}]\n"),
         {f'{C0}.volumeMounts.subPath: Invalid value: "/etc": must be a relative path'}),
    Case("bidirectional-needs-privileged", f"{VAL} validateMountPropagation L1434-1462 {V}",
         app("    volumeMounts: [{name: d, mountPath: /d, mountPropagation: Bidirectional}]\n",
             "volumes: [{name: d, emptyDir: {}}]\n"),
         {f"{C0}.volumeMounts.mountPropagation: Forbidden: Bidirectional mount propagation is available only to "
          "privileged containers"}),
    Case("bidirectional-privileged", f"{VAL} validateMountPropagation L1434-1462 {V}",
         app("    securityContext: {privileged: true}\n    volumeMounts: [{name: d, mountPath: /d, "
             "mountPropagation: Bidirectional}]\n", "volumes: [{name: d, emptyDir: {}}]\n"), set()),
]

PORTS = [
    Case("port-name-too-long", f"{VAL} validateContainerPorts L2722-2758; {UTIL} IsValidPortName L321-339 {V}",
         app("    ports: [{name: metrics-endpoint1, containerPort: 8080}]\n"),
         {f'{C0}.ports[0].name: Invalid value: "metrics-endpoint1": must be no more than 15 characters'}),
    Case("port-name-fifteen-chars", f"{UTIL} IsValidPortName L321-339 {V}",
         app("    ports: [{name: metrics-endpoin, containerPort: 8080}]\n"), set()),
    Case("port-name-upper-case", f"{UTIL} IsValidPortName L321-339 {V}",
         app("    ports: [{name: HTTP, containerPort: 80}]\n"),
         {f'{C0}.ports[0].name: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and '
          "hyphens (-)", f'{C0}.ports[0].name: Invalid value: "HTTP": must contain at least one letter (a-z)'}),
    Case("port-name-digits-only", f"{UTIL} IsValidPortName L321-339 {V}",
         app("    ports: [{name: '8080', containerPort: 80}]\n"),
         {f'{C0}.ports[0].name: Invalid value: "8080": must contain at least one letter (a-z)'}),
    Case("port-name-double-hyphen", f"{UTIL} IsValidPortName L321-339 {V}",
         app("    ports: [{name: a--b, containerPort: 80}]\n"),
         {f'{C0}.ports[0].name: Invalid value: "a--b": must not contain consecutive hyphens'}),
    Case("port-name-leading-hyphen", f"{UTIL} IsValidPortName L321-339 {V}",
         app("    ports: [{name: -web, containerPort: 80}]\n"),
         {f'{C0}.ports[0].name: Invalid value: "-web": must not begin or end with a hyphen'}),
    Case("duplicate-port-name", f"{VAL} validateContainerPorts L2722-2758 {V}",
         app("    ports: [{name: http, containerPort: 80}, {name: http, containerPort: 81}]\n"),
         {f'{C0}.ports[1].name: Duplicate value: "http"'}),
    Case("container-port-out-of-range", f"{VAL} validateContainerPorts L2722-2758; {UTIL} IsValidPortNum "
         f"L271-276 {V}", app("    ports: [{containerPort: 70000}]\n"),
         {f"{C0}.ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}),
    Case("container-port-missing", f"{VAL} validateContainerPorts L2722-2758 {V}",
         app("    ports: [{name: web}]\n"), {f"{C0}.ports[0].containerPort: Required value"}),
    Case("container-port-negative", f"{VAL} validateContainerPorts L2722-2758 {V}",
         app("    ports: [{containerPort: -1}]\n"),
         {f"{C0}.ports[0].containerPort: Invalid value: -1: must be between 1 and 65535, inclusive"}),
    Case("host-port-out-of-range", f"{VAL} validateContainerPorts L2722-2758 {V}",
         app("    ports: [{containerPort: 80, hostPort: 70000}]\n"),
         {f"{C0}.ports[0].hostPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}),
    Case("protocol-lower-case", f"{VAL} validateContainerPorts L2722-2758 {V}",
         app("    ports: [{containerPort: 80, protocol: tcp}]\n"),
         {f'{C0}.ports[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"'}),
    Case("protocol-udp", f"{VAL} validateContainerPorts L2722-2758 {V}",
         app("    ports: [{containerPort: 53, protocol: UDP}]\n"), set()),
    Case("same-container-port-without-host-network", f"{VAL} AccumulateUniqueHostPorts L3424-3445 {V}",
         app("    ports: [{containerPort: 8080}, {containerPort: 8080}]\n"), set()),
    Case("same-container-port-with-host-network", f"{DEF} SetDefaults_Pod L164-210, defaultHostNetworkPorts "
         f"L398-406; {VAL} AccumulateUniqueHostPorts L3424-3445 {V}",
         app("    ports: [{containerPort: 8080}, {containerPort: 8080}]\n", "hostNetwork: true\n"),
         {f'{C0}.ports[1].hostPort: Duplicate value: "TCP//8080"'}),
    Case("host-port-clash-across-containers", f"{VAL} validateContainers L4025-4070, AccumulateUniqueHostPorts "
         f"L3424-3445 {V}",
         spec("containers:\n- {name: a, image: x, ports: [{containerPort: 80, hostPort: 80}]}\n"
              "- {name: b, image: x, ports: [{containerPort: 81, hostPort: 80}]}\n"),
         {'spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//80"'}),
    Case("same-host-port-other-protocol", f"{VAL} AccumulateUniqueHostPorts L3424-3445 {V}",
         app("    ports: [{containerPort: 53, hostPort: 53}, {containerPort: 53, hostPort: 53, protocol: UDP}]\n"),
         set()),
    Case("init-host-ports-checked-alone-at-index-0", f"{VAL} validateInitContainers L3810-3872 (checkHostPortConflicts"
         f" with one container) {V}",
         spec("containers:\n" + APP + "initContainers:\n- {name: i0, image: x}\n- {name: i1, image: x, ports: "
              "[{containerPort: 80, hostPort: 80}, {containerPort: 81, hostPort: 80}]}\n"),
         {'spec.initContainers[0].ports[1].hostPort: Duplicate value: "TCP//80"'}),
    Case("host-network-host-port-mismatch", f"{VAL} validatePodHostNetworkDeps L4213-4242 {V}",
         app("    ports: [{containerPort: 80, hostPort: 8080}]\n", "hostNetwork: true\n"),
         {f"{C0}.ports[0].hostPort: Invalid value: 8080: must match `containerPort` when `hostNetwork` is true"}),
    Case("host-network-host-port-defaulted", f"{DEF} defaultHostNetworkPorts L398-406 {V}",
         app("    ports: [{containerPort: 80}]\n", "hostNetwork: true\n"), set()),
]

RESOURCES = [
    Case("requests-above-limits", f"{VAL} validateResourceRequirements L7826-7893; {QTY} String L680-691 {V}",
         app("    resources: {requests: {cpu: 2}, limits: {cpu: 1000m}}\n"),
         {f'{C0}.resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1'}),
    Case("requests-above-limits-canonical-binary", f"{QTY} ParseQuantity L278-392, CanonicalizeBytes L425-462 {V}",
         app("    resources: {requests: {memory: 2048Mi}, limits: {memory: 1024Mi}}\n"),
         {f'{C0}.resources.requests: Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi'}),
    Case("requests-above-limits-fraction", f"{QTY} ParseQuantity L278-392, CanonicalizeBytes L425-462 {V}",
         app("    resources: {requests: {cpu: 0.75}, limits: {cpu: 0.5}}\n"),
         {f'{C0}.resources.requests: Invalid value: "750m": must be less than or equal to cpu limit of 500m'}),
    Case("requests-above-limits-text-kept", f"{QTY} ParseQuantity L278-392 (Quantity.s kept when canonical) {V}",
         app("    resources: {requests: {memory: 3Gi}, limits: {memory: 1500Mi}}\n"),
         {f'{C0}.resources.requests: Invalid value: "3Gi": must be less than or equal to memory limit of 1500Mi'}),
    Case("requests-equal-limits-other-units", f"{VAL} validateResourceRequirements L7826-7893 {V}",
         app("    resources: {requests: {memory: 1Gi, cpu: 1}, limits: {memory: 1024Mi, cpu: 1000m}}\n"), set()),
    Case("only-limits-copied-to-requests", f"{DEF} SetDefaults_Pod L164-210 {V}",
         app("    resources: {limits: {cpu: 500m, memory: 128Mi}}\n"), set()),
    Case("micro-request-rounded-up-to-milli", f"{DEF} SetDefaults_ResourceList L39-48; {QTY} RoundUp L582-597 {V}",
         app("    resources: {requests: {cpu: 1500u}, limits: {cpu: 1m}}\n"),
         {f'{C0}.resources.requests: Invalid value: "2m": must be less than or equal to cpu limit of 1m'}),
    Case("non-standard-resource", f"{VAL} validateResourceName L7419-7435, validateContainerResourceName "
         f"L7439-7452 {V}", app("    resources: {limits: {gpu: 1}}\n"),
         {f'{C0}.resources.limits[gpu]: Invalid value: "gpu": must be a standard resource type or fully qualified',
          f'{C0}.resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers',
          f'{C0}.resources.requests[gpu]: Invalid value: "gpu": must be a standard resource type or fully qualified',
          f'{C0}.resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers'}),
    Case("extended-resource", f"{VAL} validateContainerResourceName L7439-7452 {V}",
         app("    resources: {limits: {nvidia.com/gpu: 1}}\n"), set()),
    Case("extended-resource-fraction", f"{VAL} ValidateResourceQuantityValue L8113-8122 {V}",
         app("    resources: {limits: {example.com/dev: 500m}}\n"),
         {f'{C0}.resources.limits[example.com/dev]: Invalid value: "500m": must be an integer',
          f'{C0}.resources.requests[example.com/dev]: Invalid value: "500m": must be an integer'}),
    Case("negative-memory", f"{VAL} ValidateNonnegativeQuantity L380-386 {V}",
         app("    resources: {requests: {memory: -1Gi}}\n"),
         {f'{C0}.resources.requests[memory]: Invalid value: "-1Gi": must be greater than or equal to 0'}),
    Case("hugepages-request-not-limit", f"{VAL} validateResourceRequirements L7826-7893 {V}",
         app("    resources: {requests: {hugepages-2Mi: 4Mi, memory: 1Gi}, limits: {hugepages-2Mi: 2Mi, "
             "memory: 1Gi}}\n"),
         {f'{C0}.resources.requests: Invalid value: "4Mi": must be equal to hugepages-2Mi limit of 2Mi'}),
    Case("hugepages-without-limit", f"{VAL} validateResourceRequirements L7826-7893 {V}",
         app("    resources: {requests: {hugepages-2Mi: 2Mi, memory: 1Gi}}\n"),
         {f"{C0}.resources.limits: Required value: Limit must be set for non overcommitable resources"}),
    Case("hugepages-not-a-page-multiple", f"{VAL} validateResourceQuantityHugePageValue L7955-7965 {V}",
         app("    resources: {limits: {hugepages-2Mi: 3Mi, memory: 1Gi}}\n"),
         {f'{C0}.resources.limits[hugepages-2Mi]: Invalid value: "3Mi": 3Mi is not positive integer multiple of '
          "hugepages-2Mi",
          f'{C0}.resources.requests[hugepages-2Mi]: Invalid value: "3Mi": 3Mi is not positive integer multiple of '
          "hugepages-2Mi"}),
    Case("hugepages-alone", f"{VAL} validateResourceRequirements L7826-7893 {V}",
         app("    resources: {limits: {hugepages-1Gi: 1Gi}}\n"),
         {f"{C0}.resources: Forbidden: HugePages require cpu or memory"}),
]

POLICIES = [
    Case("restart-policy-lower-case", f"{VAL} validateRestartPolicy L4072-4085 {V}", app(pod="restartPolicy: always\n"),
         {'spec.restartPolicy: Unsupported value: "always": supported values: "Always", "OnFailure", "Never"'}),
    Case("restart-policy-empty-is-defaulted", f"{DEF} SetDefaults_PodSpec L211-232 {V}",
         app(pod="restartPolicy: ''\n"), set()),
    Case("dns-policy-unknown", f"{VAL} validateDNSPolicy L4100-4111 {V}", app(pod="dnsPolicy: Host\n"),
         {'spec.dnsPolicy: Unsupported value: "Host": supported values: "ClusterFirstWithHostNet", "ClusterFirst", '
          '"Default", "None"'}),
    Case("dns-policy-host-net", f"{VAL} validateDNSPolicy L4100-4111 {V}",
         app(pod="dnsPolicy: ClusterFirstWithHostNet\n"), set()),
    Case("pull-policy-lower-case", f"{VAL} validatePullPolicy L3612-3625 {V}", app("    imagePullPolicy: always\n"),
         {f'{C0}.imagePullPolicy: Unsupported value: "always": supported values: "Always", "IfNotPresent", "Never"'}),
    Case("pull-policy-never", f"{VAL} validatePullPolicy L3612-3625 {V}", app("    imagePullPolicy: Never\n"), set()),
]

PROBES = [
    Case("probe-without-handler", f"{VAL} validateHandler L3503-3550 {V}",
         app("    livenessProbe: {initialDelaySeconds: 5}\n"),
         {f"{C0}.livenessProbe: Required value: must specify a handler type"}),
    Case("empty-probe", f"{VAL} validateHandler L3503-3550 {V}", app("    readinessProbe: {}\n"),
         {f"{C0}.readinessProbe: Required value: must specify a handler type"}),
    Case("null-probe", f"{VAL} validateLivenessProbe L3259-3270 {V}", app("    livenessProbe: null\n"), set()),
    Case("two-handlers", f"{VAL} validateHandler L3503-3550 {V}",
         app("    livenessProbe: {exec: {command: [true]}, httpGet: {port: 80}}\n"),
         {f"{C0}.livenessProbe.httpGet: Forbidden: may not specify more than 1 handler type"}),
    Case("tcp-and-grpc", f"{VAL} validateHandler L3503-3550 {V}",
         app("    startupProbe: {grpc: {port: 9000}, tcpSocket: {port: 80}}\n"),
         {f"{C0}.startupProbe.grpc: Forbidden: may not specify more than 1 handler type"}),
    Case("liveness-success-threshold", f"{VAL} validateLivenessProbe L3259-3270 {V}",
         app("    livenessProbe: {tcpSocket: {port: 80}, successThreshold: 2}\n"),
         {f"{C0}.livenessProbe.successThreshold: Invalid value: 2: must be 1"}),
    Case("readiness-success-threshold", f"{VAL} validateReadinessProbe L3272-3283 {V}",
         app("    readinessProbe: {tcpSocket: {port: 80}, successThreshold: 3}\n"), set()),
    Case("negative-period", f"{VAL} validateProbe L3298-3315 {V}",
         app("    readinessProbe: {tcpSocket: {port: 80}, periodSeconds: -1}\n"),
         {f"{C0}.readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0"}),
    Case("zero-period-is-defaulted", f"{DEF} SetDefaults_Probe L233-246 {V}",
         app("    livenessProbe: {tcpSocket: {port: 80}, periodSeconds: 0, successThreshold: 0}\n"), set()),
    Case("probe-port-quoted-number", f"{VAL} ValidatePortNumOrName L3481-3495 {V}",
         app("    livenessProbe: {httpGet: {port: '8080'}}\n"),
         {f'{C0}.livenessProbe.httpGet.port: Invalid value: "8080": must contain at least one letter (a-z)'}),
    Case("probe-port-name-not-cross-checked", f"{VAL} ValidatePortNumOrName L3481-3495 {V}",
         app("    livenessProbe: {httpGet: {port: metrics, path: /healthz}}\n"), set()),
    Case("probe-port-missing", f"{VAL} validateHTTPGetAction L3464-3479, ValidatePortNumOrName L3481-3495 {V}",
         app("    livenessProbe: {httpGet: {path: /healthz}}\n"),
         {f"{C0}.livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive"}),
    Case("exec-without-command", f"{VAL} validateExecAction L3454-3462 {V}",
         app("    livenessProbe: {exec: {command: []}}\n"), {f"{C0}.livenessProbe.exec.command: Required value"}),
    Case("http-scheme-lower-case", f"{VAL} validateHTTPGetAction L3464-3479 {V}",
         app("    livenessProbe: {httpGet: {port: 80, scheme: https}}\n"),
         {f'{C0}.livenessProbe.httpGet.scheme: Unsupported value: "https": supported values: "HTTP", "HTTPS"'}),
    Case("pre-stop-without-handler", f"{VAL} validateLifecycle L3593-3606, validateHandler L3503-3550 {V}",
         app("    lifecycle: {preStop: {}}\n"),
         {f"{C0}.lifecycle.preStop: Required value: must specify a handler type"}),
    Case("init-container-probe", f"{VAL} validateInitContainers L3810-3872 {V}",
         spec("containers:\n" + APP + "initContainers:\n- {name: init, image: x, readinessProbe: {tcpSocket: "
              "{port: 80}}}\n"),
         {"spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without "
          "restartPolicy=Always"}),
    Case("sidecar-probe", f"{VAL} validateInitContainers L3810-3872 {V}",
         spec("containers:\n" + APP + "initContainers:\n- {name: proxy, image: x, restartPolicy: Always, "
              "readinessProbe: {tcpSocket: {port: 80}}}\n"), set()),
]

CONTAINERS = [
    Case("duplicate-container-name", f"{VAL} validateContainers L4025-4070 {V}",
         spec("containers:\n" + APP + APP), {'spec.containers[1].name: Duplicate value: "app"'}),
    Case("init-named-like-a-container", f"{VAL} validateInitContainers L3810-3872 {V}",
         spec("containers:\n" + APP + "initContainers:\n" + APP),
         {'spec.initContainers[0].name: Duplicate value: "app"'}),
    Case("container-name-not-a-label", f"{VAL} validateContainerCommon L3876-3917 {V}",
         spec("containers:\n- {name: My_App, image: x}\n"),
         {f'spec.containers[0].name: Invalid value: "My_App": {LABEL_RE}'}),
    Case("container-without-image", f"{VAL} validateContainerCommon L3876-3917 {V}",
         spec("containers:\n- {name: app}\n"), {"spec.containers[0].image: Required value"}),
    Case("image-with-space", f"{VAL} validateContainerOnlyForPod L4434-4440 {V}",
         spec("containers:\n- {name: app, image: ' nginx'}\n"),
         {'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace'}),
    Case("no-containers", f"{VAL} validateContainers L4025-4070 {V}", spec("containers: []\n"),
         {"spec.containers: Required value"}),
    Case("env-name-starting-with-digit-1.34", f"{VAL} ValidateEnv L2761-2782; {UTIL} IsEnvVarName L377-385 "
         "(PodValidationOptions{} up to 1.34)",
         (app("    env: [{name: 1VAR, value: x}]\n"), 34), {f'{C0}.env[0].name: Invalid value: "1VAR": {ENV_RE}'}),
    Case("env-name-starting-with-digit-1.35", f"{VAL} ValidateEnv L2761-2782; {UTIL} IsRelaxedEnvVarName "
         f"L388-403 {V}", app("    env: [{name: 1VAR, value: x}]\n"), set()),
    Case("env-name-dot-dot-1.34", f"{UTIL} IsEnvVarName L377-385, hasChDirPrefix L457-468 (up to 1.34)",
         (app("    env: [{name: ..x}]\n"), 34),
         {f"{C0}.env[0].name: Invalid value: \"..x\": must not start with '..'"}),
    Case("env-name-with-equals", f"{UTIL} IsRelaxedEnvVarName L388-403 {V}", app("    env: [{name: A=B}]\n"),
         {f'{C0}.env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable '
          "ASCII characters other than '='"}),
    Case("env-without-name", f"{VAL} ValidateEnv L2761-2782 {V}", app("    env: [{value: x}]\n"),
         {f"{C0}.env[0].name: Required value"}),
    Case("container-restart-policy-1.34", f"{VAL} validateContainers L4025-4070 (PodValidationOptions{{}})",
         (app("    restartPolicy: Always\n"), 34),
         {f"{C0}.restartPolicy: Forbidden: may not be set for non-init containers"}),
    Case("init-restart-policy-on-failure-1.34", f"{VAL} validateInitContainerRestartPolicy L3317-3348 "
         "(PodValidationOptions{})",
         (spec("containers:\n" + APP + "initContainers:\n- {name: i, image: x, restartPolicy: OnFailure}\n"), 34),
         {'spec.initContainers[0].restartPolicy: Unsupported value: "OnFailure": supported values: "Always"'}),
]

METADATA = [
    Case("label-value-with-space", f"{KUBE} IsLabelValue L85-94; metav1 validation ValidateLabels L113-122 {V}",
         meta(labels={"tier": "bad value"}), {f'metadata.labels: Invalid value: "bad value": {VALUE_RE}'}),
    Case("label-value-too-long", f"{KUBE} IsLabelValue L85-94 {V}", meta(labels={"tier": "a" * 64}),
         {f'metadata.labels: Invalid value: "{"a" * 64}": must be no more than 63 bytes'}),
    Case("label-empty-value", f"{KUBE} IsLabelValue L85-94 {V}", meta(labels={"tier": ""}), set()),
    Case("annotations-too-large", f"{META} ValidateAnnotations L44-56 {V}",
         meta(annotations={"big": "x" * (256 * 1024)}),
         {"metadata.annotations: Too long: may not be more than 262144 bytes"}),
    Case("deletion-cost-not-a-number", f"{VAL} ValidatePodSpecificAnnotations L193-216 {V}",
         meta(annotations={"controller.kubernetes.io/pod-deletion-cost": "abc"}),
         {'metadata.annotations[controller.kubernetes.io/pod-deletion-cost]: Invalid value: "abc": must be a 32bit '
          "integer"}),
    Case("deletion-cost-number", f"{VAL} ValidatePodSpecificAnnotations L193-216 {V}",
         meta(annotations={"controller.kubernetes.io/pod-deletion-cost": "-10"}), set()),
    Case("ephemeral-containers", f"{VAL} ValidatePodCreate L5601-5617 {V}",
         app(pod="ephemeralContainers: [{name: debug, image: busybox}]\n"),
         {"spec.ephemeralContainers: Forbidden: cannot be set on create"}),
]


def _run(given: Any) -> set[str]:
    pod, minor = given if isinstance(given, tuple) else (given, None)
    return set(validate_pod(pod, "p-node1", "default", kubelet_minor=minor))


@cases(VOLUMES + PORTS + RESOURCES + POLICIES + PROBES + CONTAINERS + METADATA)
def test_the_kubelets_validation(case: Case) -> None:
    assert _run(case.given) == case.want


FILES = [
    Case("rejected-file-says-why", f"{VAL} ValidateVolumeMounts L3105-3151; pkg/kubelet/config/common.go "
         "tryDecodeSinglePod (invalid pod: %v)",
         "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: nginx\n"
         "    volumeMounts: [{name: data, mountPath: /d}]\n",
         ("rejected", 'spec.containers[0].volumeMounts[0].name: Not found: "data"')),
    Case("valid-file-runs", f"{VAL} ValidatePodCreate L5601-5617 {V}",
         "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  hostNetwork: true\n  containers:\n"
         "  - name: app\n    image: nginx\n    ports: [{name: http, containerPort: 80}]\n"
         "    resources: {limits: {cpu: 500m, memory: 1Gi}}\n", ("loaded", "runs as default/web-node1")),
]


@cases(FILES)
def test_a_manifest_file_fate(case: Case) -> None:
    entries, _ = read_static_pod_path(mem_node({"/m/web.yaml": case.given}), "/m", "node1")
    fate, message = case.want
    assert entries[0].fate == fate and message in entries[0].reason
