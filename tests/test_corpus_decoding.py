"""Class 1 of the kubelet agreement corpus: typed decoding.

Each row is a static pod file; ``want`` is what the kubelet does with it: ``LOADS``, or the
error ``tryDecodeSinglePod`` returns with parsed=false, which the kubelet logs as
``<file>: couldn't parse as pod(<want>), please check config file`` and skips the file
(``Prefix``: the kubelet prints a Go dump there, podaudit its start). The rows run podaudit's
judgement of one file (manifests.judge), as ``node``, ``find`` and ``sweep`` report it.

Versions read: go-yaml v2 branch 7649d454 (= v2.4.0; the kubelet vendors go.yaml.in/yaml/v2
v2.4.x with the same resolve/decode/parser), kubernetes-sigs/yaml aadfabb7 (v1.6.x),
kubernetes-sigs/json cfa47c3a, kubernetes/apimachinery eed236ce (master) and kubernetes-1.35.7
(dc5b4c59), kubernetes/api kubernetes-1.35.7 (41839a1b). The YAML stage rows (scalars,
structure, keys) were also run through gopkg.in/yaml.v2 v2.4.0 and sigs.k8s.io/yaml with Go
1.19 (except "unsupported map key", whose text changed case in sigs.k8s.io/yaml since).
"""

from __future__ import annotations

from dataclasses import dataclass

from podaudit.collect.redact.documents import redact_manifest
from podaudit.kubelet.manifests import ManifestEntry, couldnt_parse, judge
from podaudit.model import FileRecord
from tests.corpus import Case, cases

LOADS = "loads"


@dataclass(frozen=True)
class Prefix:
    """The kubelet's message starts so (podaudit abridges the Go dump that follows)."""

    text: str


GOYAML = "go-yaml/yaml v2@7649d454"
R_RESOLVE = f"{GOYAML} resolve.go resolve L86-197 (resolveTable/resolveMap init L20-59)"
R_FLOAT = f"{GOYAML} resolve.go resolve L152-175, yamlStyleFloat L84"
R_SCALAR = f"{GOYAML} decode.go scalar L411-440 (tags, !!binary) + resolve.go resolve L86-110"
R_DIRECTIVE = f"{GOYAML} parserc.go yaml_parser_process_directives L1013-1040, decode.go fail L111-133"
R_MERGE = f"{GOYAML} decode.go mapping L623-691, merge L786-811, isMerge L813-815"
R_FIRSTDOC = f"{GOYAML} yaml.go unmarshal L137-154 (one p.parse())"
SIGS = "kubernetes-sigs/yaml@aadfabb7 yaml.go"
R_KEYS = f"{SIGS} convertToJSONableObject L181-358 (map keys L203-251)"
R_MARSHAL = f"{SIGS} yamlToJSONTarget L156-179 (json.Marshal refuses Inf/NaN: encoding/json UnsupportedValueError)"
AM = "kubernetes/apimachinery@eed236ce"
R_TOJSON = f"{AM} pkg/util/yaml/decoder.go ToJSON L96-101, IsJSONBuffer L474-485"
R_DECODE = f"{AM} pkg/runtime/serializer/json/json.go Decode L139-217"
R_MISSING = f"{AM} json.go Decode L197-202, pkg/runtime/error.go missingKindErr L89-91, missingVersionErr L111-113"
R_INTERPRET = f"{AM} pkg/runtime/serializer/json/meta.go Interpret L48-63 (stdlib encoding/json)"
R_GV = f"{AM} pkg/runtime/schema/group_version.go ParseGroupVersion L211-227"
R_NEW = f"{AM} pkg/runtime/scheme.go New L306-315, error.go notRegisteredErr.Error L50-69"
R_NOTPOD = ("kubernetes/kubernetes pkg/kubelet/config/common.go tryDecodeSinglePod L116-131 (master), "
            "kubernetes/api core/v1/register.go addKnownTypes L48-102 (1.35.7)")
SJ = "kubernetes-sigs/json@cfa47c3a internal/golang/encoding/json/decode.go"
R_TYPED = f"{SJ} object L633-912 (exact-case fields L771-806), literalStore L943-1115, addErrorContext L279-288"
R_FIRST = f"{SJ} saveError L270-277, unmarshal L177-197 (first saved error; an UnmarshalJSON error wins)"
R_INT = f"{SJ} literalStore L1088-1095 (ParseInt(literal), OverflowInt: 'number <literal>')"
R_QTY = (f"{AM} pkg/api/resource/quantity.go UnmarshalJSON L733-752, ParseQuantity L278-392, "
         "parseQuantityString L161-275")
R_SUFFIX = f"{AM} pkg/api/resource/suffix.go suffixHandler.interpret L180-196, quantity.go ParseQuantity L289-292"
R_INTSTR = (f"{AM} pkg/util/intstr/intstr.go UnmarshalJSON L89-96; {SJ} addErrorContext L279-288 "
            "(kubernetes_patch.go L27: UnmarshalTypeError is the standard library's)")
R_TIME = f"{AM} pkg/apis/meta/v1/time.go UnmarshalJSON L100-119 (time.Parse(RFC3339))"
API = "kubernetes/api@41839a1b core/v1/types.go"

QTY = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
SCHEME = "pkg/api/legacyscheme/scheme.go:30"
INTERPRET = 'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
ANNOTATION = "Go struct field ObjectMeta.metadata.annotations of type string"
PORT = "Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"
HTTP_PORT = "Go struct field HTTPGetAction.spec.containers.livenessProbe.httpGet.port of type int32"


def pod(meta: str = "", spec: str = "", container: str = "", head: str = "apiVersion: v1\nkind: Pod\n") -> str:
    """A valid static pod, with lines added to its metadata, spec and first container."""
    return (f"{head}metadata:\n  name: web\n  namespace: kube-system\n{meta}"
            f"spec:\n{spec}  containers:\n  - name: app\n    image: registry.k8s.io/pause:3.9\n{container}")


def annotated(scalar: str) -> str:
    return pod(meta=f"  annotations:\n    a: {scalar}\n")


def port(scalar: str) -> str:
    return pod(container=f"    ports:\n    - containerPort: {scalar}\n")


def limits(text: str) -> str:
    return pod(container=f"    resources:\n      limits:\n        {text}\n")


def probe(text: str) -> str:
    return pod(container=f"    livenessProbe:\n      httpGet:\n        path: /healthz\n        port: {text}\n")


def json_pod(spec_first: str) -> str:
    return ('{"spec": {' + spec_first + '"containers": [{"name": "app", "image": "i"}]}, '
            '"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j", "labels": {"a": 1}}}')


# A scalar as a map[string]string value: a string loads, a bool or number rejects the pod.
SCALARS = [
    Case("y-is-a-bool", R_RESOLVE, annotated("y"), f"json: cannot unmarshal bool into {ANNOTATION}"),
    Case("Y-is-a-bool", R_RESOLVE, annotated("Y"), f"json: cannot unmarshal bool into {ANNOTATION}"),
    Case("n-is-a-bool", R_RESOLVE, annotated("n"), f"json: cannot unmarshal bool into {ANNOTATION}"),
    Case("N-is-a-bool", R_RESOLVE, annotated("N"), f"json: cannot unmarshal bool into {ANNOTATION}"),
    Case("on-is-a-bool", R_RESOLVE, annotated("on"), f"json: cannot unmarshal bool into {ANNOTATION}"),
    Case("Off-is-a-bool", R_RESOLVE, annotated("Off"), f"json: cannot unmarshal bool into {ANNOTATION}"),
    Case("mixed-case-yEs-is-text", R_RESOLVE, annotated("yEs"), LOADS),
    Case("quoted-y-is-text", R_SCALAR, annotated("'y'"), LOADS),
    Case("null-is-no-value", R_RESOLVE, annotated("~"), LOADS),
    Case("0o17-is-a-number", R_FLOAT, annotated("0o17"), f"json: cannot unmarshal number into {ANNOTATION}"),
    Case("08-is-a-number", R_FLOAT, annotated("08"), f"json: cannot unmarshal number into {ANNOTATION}"),
    Case("1e3-is-a-number", R_FLOAT, annotated("1e3"), f"json: cannot unmarshal number into {ANNOTATION}"),
    Case("5e-1-is-a-number", R_FLOAT, annotated("5e-1"), f"json: cannot unmarshal number into {ANNOTATION}"),
    Case("1_000-is-a-number", R_RESOLVE, annotated("1_000"), f"json: cannot unmarshal number into {ANNOTATION}"),
    Case("dot-5_5-is-a-number", R_FLOAT, annotated(".5_5"), f"json: cannot unmarshal number into {ANNOTATION}"),
    Case("dot-_5-is-text", R_FLOAT, annotated("._5"), LOADS),
    Case("base-60-1:30-is-text", R_RESOLVE, annotated("1:30"), LOADS),
    Case("timestamp-is-text", R_SCALAR, annotated("2024-01-01"), LOADS),
    Case("equals-sign-is-text", R_RESOLVE, annotated("="), LOADS),
    Case("NaN-word-is-text", R_RESOLVE, annotated("NaN"), LOADS),
    Case("1.5e999-is-text", R_FLOAT, annotated("1.5e999"), LOADS),
    Case("huge-integer-is-a-float", R_FLOAT, annotated("99999999999999999999"),
         f"json: cannot unmarshal number into {ANNOTATION}"),
    Case("dot-inf-anywhere-fails-the-file", R_MARSHAL, pod(spec="  x-unknown: .inf\n"),
         "json: unsupported value: +Inf"),
    Case("minus-inf-fails-the-file", R_MARSHAL, annotated("-.inf"), "json: unsupported value: -Inf"),
    Case("nan-fails-the-file", R_MARSHAL, annotated(".NaN"), "json: unsupported value: NaN"),
    Case("unknown-tag-is-text", R_SCALAR, annotated("!foo bar"), LOADS),
    Case("binary-tag-is-decoded-text", R_SCALAR, annotated("!!binary aGVsbG8="), LOADS),
    Case("binary-tag-bad-base64", R_SCALAR, annotated("!!binary '@@'"),
         "yaml: !!binary value contains invalid base64 data"),
    Case("str-tag-on-a-number-is-text", R_SCALAR, annotated("!!str 123"), LOADS),
    Case("int-tag-on-text-fails", R_RESOLVE, annotated("!!int abc"), "yaml: cannot decode !!str `abc` as a !!int"),
]

# A scalar as an int32: go-yaml's number reaches json.Marshal, then ParseInt of its text.
NUMBERS = [
    Case("port-1e3-loads", R_FLOAT, port("1e3"), LOADS),
    Case("port-08-loads", R_FLOAT, port("08"), LOADS),
    Case("port-hex-loads", R_RESOLVE, port("0x50"), LOADS),
    Case("port-0o-octal-loads", R_RESOLVE, port("0o120"), LOADS),
    Case("port-80.0-loads", R_INT, port("80.0"), LOADS),
    Case("port-80.5-is-not-an-integer", R_INT, port("80.5"), f"json: cannot unmarshal number 80.5 into {PORT}"),
    Case("port-int32-overflow", R_INT, port("99999999999"), f"json: cannot unmarshal number 99999999999 into {PORT}"),
    Case("port-1e21-is-e-notation", R_INT, port("1e21"), f"json: cannot unmarshal number 1e+21 into {PORT}"),
    Case("port-quoted-is-a-string", R_TYPED, port("'80'"), f"json: cannot unmarshal string into {PORT}"),
    Case("json-port-1e3-keeps-its-literal", R_TOJSON,
         '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}, "spec": {"containers": '
         '[{"name": "c", "image": "i", "ports": [{"containerPort": 1e3}]}]}}',
         f"json: cannot unmarshal number 1e3 into {PORT}"),
    Case("priority-int32-overflow", f"{API} PodSpec L4100-4454; {R_INT}", pod(spec="  priority: 2147483648\n"),
         "json: cannot unmarshal number 2147483648 into Go struct field PodSpec.spec.priority of type int32"),
    Case("grace-period-1e20-int64", R_INT, pod(spec="  terminationGracePeriodSeconds: 1e20\n"),
         "json: cannot unmarshal number 100000000000000000000 into Go struct field "
         "PodSpec.spec.terminationGracePeriodSeconds of type int64"),
]

STRUCTURE = [
    Case("yaml-1.2-directive", R_DIRECTIVE, "%YAML 1.2\n---\n" + pod(), "yaml: found incompatible YAML document"),
    Case("yaml-1.2-directive-line-2", R_DIRECTIVE, "# static pod\n\n%YAML 1.2\n---\n" + pod(),
         "yaml: line 2: found incompatible YAML document"),
    Case("yaml-1.1-directive", R_DIRECTIVE, "%YAML 1.1\n---\n" + pod(), LOADS),
    Case("duplicate-directive", R_DIRECTIVE, "%YAML 1.1\n%YAML 1.1\n---\n" + pod(),
         "yaml: line 1: found duplicate %YAML directive"),
    Case("merge-after-a-key-overrides-it", R_MERGE,
         pod(spec="  x-base: &b {containerPort: '80'}\n", container="    ports:\n    - {containerPort: 80, <<: *b}\n"),
         f"json: cannot unmarshal string into {PORT}"),
    Case("merge-before-a-key-is-overridden", R_MERGE,
         pod(spec="  x-base: &b {containerPort: '80'}\n", container="    ports:\n    - {<<: *b, containerPort: 80}\n"),
         LOADS),
    Case("merge-list-earlier-map-wins", R_MERGE,
         pod(spec="  x-a: &a {containerPort: 80}\n  x-b: &b {containerPort: '80'}\n",
             container="    ports:\n    - <<: [*a, *b]\n"), LOADS),
    Case("merge-of-a-scalar", R_MERGE, pod(spec="  x: {<<: 5}\n"),
         "yaml: map merge requires map or sequence of maps as the value"),
    Case("bool-and-number-keys-become-text", R_KEYS, pod(meta="  labels:\n    y: a\n    1: b\n    2.5: c\n"), LOADS),
    Case("null-key", R_KEYS, pod(meta="  labels:\n    ~: a\n"),
         'unsupported map key of type: %!s(<nil>), key: <nil>, value: "a"'),
    Case("uint64-key", R_KEYS, pod(spec="  x:\n    18446744073709551615: a\n"),
         'unsupported map key of type: uint64, key: 0xffffffffffffffff, value: "a"'),
    Case("first-document-only", R_FIRSTDOC, pod() + "---\nkind: [broken\n", LOADS),
    Case("empty-first-document", f"{R_FIRSTDOC}; {R_MISSING}", "---\n---\n" + pod(),
         "Object 'Kind' is missing in 'null'"),
    Case("comment-only-file", R_MISSING, "# nothing here\n", "Object 'Kind' is missing in 'null'"),
    Case("unknown-fields-are-dropped", R_TYPED, pod(spec="  hostnetwork: 'true'\n  x: [1, {y: 2}]\n"), LOADS),
]

KINDS = [
    Case("no-kind", R_MISSING, "apiVersion: v1\nmetadata: {name: a}\n",
         """Object 'Kind' is missing in '{"apiVersion":"v1","metadata":{"name":"a"}}'"""),
    Case("no-apiVersion", R_MISSING, "kind: Pod\nmetadata: {name: a}\n",
         """Object 'apiVersion' is missing in '{"kind":"Pod","metadata":{"name":"a"}}'"""),
    Case("group-without-version", f"{R_GV}; {R_MISSING}", pod(head="apiVersion: apps/\nkind: Pod\n"),
         Prefix("Object 'apiVersion' is missing in '{")),
    Case("apiVersion-v2", R_NEW, pod(head="apiVersion: v2\nkind: Pod\n"),
         f'no kind "Pod" is registered for version "v2" in scheme "{SCHEME}"'),
    Case("kind-lowercase-pod", R_NEW, pod(head="apiVersion: v1\nkind: pod\n"),
         f'no kind "pod" is registered for version "v1" in scheme "{SCHEME}"'),
    Case("deployment", R_NEW, pod(head="apiVersion: apps/v1\nkind: Deployment\n"),
         f'no kind "Deployment" is registered for version "apps/v1" in scheme "{SCHEME}"'),
    Case("configmap-is-not-a-pod", R_NOTPOD, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
         Prefix("invalid pod: &core.ConfigMap{")),
    Case("key-case-is-ignored-for-kind", R_INTERPRET, pod(head="APIVERSION: v1\nKind: Pod\n"), LOADS),
    Case("slash-v1-is-core-v1", R_GV, pod(head="apiVersion: /v1\nkind: Pod\n"), LOADS),
    Case("three-part-apiVersion", R_GV, pod(head="apiVersion: a/b/c\nkind: Pod\n"),
         "unexpected GroupVersion string: a/b/c"),
    Case("numeric-apiVersion", R_INTERPRET, pod(head="apiVersion: 1\nkind: Pod\n"),
         "couldn't get version/kind; json parse error: json: cannot unmarshal number into Go struct field "
         ".apiVersion of type string"),
    Case("top-level-list", f"{R_INTERPRET}; {AM} pkg/runtime/serializer/recognizer/recognizer.go decoder.Decode "
         "L80-128 (JSON not recognized: the YAML serializer's error)", "- apiVersion: v1\n",
         "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type "
         + INTERPRET),
]

TYPED = [
    Case("hostNetwork-quoted-true", f"{API} PodSpec L4100-4454; {R_TYPED}", pod(spec="  hostNetwork: 'true'\n"),
         "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool"),
    Case("hostNetwork-y", R_RESOLVE, pod(spec="  hostNetwork: y\n"), LOADS),
    Case("env-value-number", f"{API} EnvVar L2465-2486; {R_TYPED}",
         pod(container="    env:\n    - {name: A, value: 8080}\n"),
         "json: cannot unmarshal number into Go struct field EnvVar.spec.containers.env.value of type string"),
    Case("env-value-quoted-number", R_TYPED, pod(container="    env:\n    - {name: A, value: '8080'}\n"), LOADS),
    Case("env-as-a-map", R_TYPED, pod(container="    env: {A: b}\n"),
         "json: cannot unmarshal object into Go struct field Container.spec.containers.env of type []v1.EnvVar"),
    Case("args-with-a-number", R_TYPED, pod(container="    args: [--port, 8080]\n"),
         "json: cannot unmarshal number into Go struct field Container.spec.containers.args of type string"),
    Case("command-as-a-string", R_TYPED, pod(container="    command: sh -c x\n"),
         "json: cannot unmarshal string into Go struct field Container.spec.containers.command of type []string"),
    Case("metadata-as-a-list", R_TYPED, "apiVersion: v1\nkind: Pod\nmetadata: []\n",
         "json: cannot unmarshal array into Go struct field Pod.metadata of type v1.ObjectMeta"),
    Case("container-as-a-string", R_TYPED,
         "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers: [a]\n",
         "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type v1.Container"),
    Case("probe-period-quoted", f"{API} Probe L2714-2750; {R_TYPED}",
         pod(container="    livenessProbe:\n      exec: {command: [/bin/true]}\n      periodSeconds: '10'\n"),
         "json: cannot unmarshal string into Go struct field Probe.spec.containers.livenessProbe.periodSeconds "
         "of type int32"),
    Case("runAsUser-quoted", f"{API} PodSecurityContext L4804-4925", pod(spec="  securityContext: {runAsUser: '0'}\n"),
         "json: cannot unmarshal string into Go struct field PodSecurityContext.spec.securityContext.runAsUser "
         "of type int64"),
    Case("hostPath-path-number", f"{API} HostPathVolumeSource L928-938",
         pod(spec="  volumes:\n  - {name: v, hostPath: {path: 5}}\n"),
         "json: cannot unmarshal number into Go struct field HostPathVolumeSource.spec.volumes.hostPath.path "
         "of type string"),
    Case("toleration-seconds-quoted", f"{API} Toleration L4054-4080",
         pod(spec="  tolerations:\n  - {operator: Exists, effect: NoExecute, tolerationSeconds: '30'}\n"),
         "json: cannot unmarshal string into Go struct field Toleration.spec.tolerations.tolerationSeconds "
         "of type int64"),
    Case("first-error-in-sorted-key-order", R_FIRST,
         pod(meta="  labels: {a: 1.10}\n", spec="  hostNetwork: 'true'\n"),
         "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
    Case("json-file-keeps-its-key-order", f"{R_TOJSON}; {R_FIRST}", json_pod('"hostNetwork": "true", '),
         "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool"),
    Case("nulls-set-nothing", R_TYPED, pod(spec="  hostNetwork: null\n  volumes: null\n", container="    ports: ~\n"),
         LOADS),
    Case("creationTimestamp-null", R_TIME, pod(meta="  creationTimestamp: null\n"), LOADS),
    Case("creationTimestamp-date-only", R_TIME, pod(meta="  creationTimestamp: 2024-01-01\n"),
         'parsing time "2024-01-01" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T"'),
    Case("creationTimestamp-number", f"{R_TIME}; {R_INTSTR}", pod(meta="  creationTimestamp: 5\n"),
         "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string"),
]

QUANTITIES = [
    Case("cpu-half", R_QTY, limits("cpu: 0.5"), LOADS),
    Case("cpu-milli", R_QTY, limits("cpu: 500m"), LOADS),
    Case("memory-Gi", R_QTY, limits("memory: 1Gi"), LOADS),
    Case("memory-1e9-number", R_QTY, limits("memory: 1e9"), LOADS),
    Case("memory-leading-space", R_QTY, limits("memory: ' 128Mi'"), LOADS),
    Case("memory-GB", R_QTY, limits("memory: 1GB"), QTY),
    Case("memory-lowercase-gi", R_QTY, limits("memory: 1gi"), QTY),
    Case("cpu-bool", R_QTY, limits("cpu: true"), QTY),
    Case("cpu-empty", R_QTY, limits("cpu: ''"), QTY),
    Case("memory-K-suffix", R_SUFFIX, limits("memory: 1K"), "unable to parse quantity's suffix"),
    Case("emptyDir-sizeLimit", f"{API} EmptyDirVolumeSource L942-957; {R_QTY}",
         pod(spec="  volumes:\n  - {name: v, emptyDir: {sizeLimit: 1GB}}\n"), QTY),
    Case("quantity-error-beats-an-earlier-type-error", R_FIRST,
         pod(meta="  annotations: {a: 1}\n", container="    resources: {limits: {cpu: x}}\n"), QTY),
]

INTORSTRING = [
    Case("probe-port-number", R_INTSTR, probe("8080"), LOADS),
    Case("probe-port-name", R_INTSTR, probe("http"), LOADS),
    Case("probe-port-quoted-name", R_INTSTR, probe("'metrics'"), LOADS),
    Case("probe-port-bool", R_INTSTR, probe("true"), f"json: cannot unmarshal bool into {HTTP_PORT}"),
    Case("probe-port-fraction", R_INTSTR, probe("80.5"), f"json: cannot unmarshal number 80.5 into {HTTP_PORT}"),
    Case("probe-port-overflow", R_INTSTR, probe("99999999999"),
         f"json: cannot unmarshal number 99999999999 into {HTTP_PORT}"),
    Case("probe-port-object", R_INTSTR, probe("{}"), f"json: cannot unmarshal object into {HTTP_PORT}"),
]


def judged(text: str | bytes) -> ManifestEntry:
    data = text.encode() if isinstance(text, str) else text
    path = "/etc/kubernetes/manifests/pod.yaml"
    return judge(path, FileRecord(path, "file", data=data), "node-1")


def assert_kubelet(entry: ManifestEntry, want: str | Prefix) -> None:
    if want == LOADS:
        assert entry.fate == "loaded", entry.reason
        return
    assert entry.fate == "rejected", entry.reason
    if isinstance(want, Prefix):
        assert entry.reason.startswith(couldnt_parse(want.text)[:-len("), please check config file")]), entry.reason
    else:
        assert entry.reason == couldnt_parse(want)
    assert entry.code in {"decode", "not-a-pod"}


@cases(SCALARS + NUMBERS + STRUCTURE + KINDS + TYPED + QUANTITIES + INTORSTRING)
def test_the_kubelet_decodes_the_file_as_upstream_does(case: Case) -> None:
    assert_kubelet(judged(case.given), case.want)


# Redaction writes YAML with PyYAML; go-yaml must read it back to the same types, so the
# redacted bundle gets every verdict of the original (a kept "y" is quoted, a number where
# text goes stays a number, settings stay).
R_REDACT = f"{R_RESOLVE}; {R_TYPED}"
REDACTED = [
    Case("kept-names-that-look-like-bools", R_REDACT,
         pod(head="apiVersion: v1\nkind: Pod\n").replace("name: app", "name: 'y'").replace(
             "namespace: kube-system", "namespace: 'on'"), LOADS),
    Case("kept-image-that-looks-like-a-number", R_REDACT,
         pod().replace("image: registry.k8s.io/pause:3.9", "image: '0o17'"), LOADS),
    Case("settings-stay", R_REDACT,
         pod(spec="  restartPolicy: Always\n  hostNetwork: y\n",
             container="    resources: {limits: {cpu: 500m, memory: 1Gi}}\n    ports: [{containerPort: 1e3}]\n"
                       "    livenessProbe: {httpGet: {path: /h, port: http}, periodSeconds: 08}\n"), LOADS),
    Case("number-in-env-value-still-rejects", R_REDACT, pod(container="    env:\n    - {name: A, value: 8080}\n"),
         "json: cannot unmarshal number into Go struct field EnvVar.spec.containers.env.value of type string"),
    Case("bool-annotation-still-rejects", R_REDACT, annotated("n"), f"json: cannot unmarshal bool into {ANNOTATION}"),
    Case("number-arg-still-rejects", R_REDACT, pod(container="    args: [--port, 8080]\n"),
         "json: cannot unmarshal number into Go struct field Container.spec.containers.args of type string"),
    Case("bad-quantity-still-rejects", R_REDACT, limits("memory: 1GB"), QTY),
    Case("miscased-kind-still-loads", R_REDACT, pod(head="apiVersion: v1\nKind: Pod\n"), LOADS),
    Case("json-label-number-still-rejects", R_REDACT, json_pod(""),
         "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
]


@cases(REDACTED)
def test_a_redacted_manifest_keeps_its_verdict(case: Case) -> None:
    assert_kubelet(judged(case.given), case.want)
    assert_kubelet(judged(redact_manifest(case.given.encode())), case.want)
