"""The Go types of a v1.Pod's JSON fields, for podtypes.py: generated from k8s.io/api
core/v1/types.go and k8s.io/apimachinery pkg/apis/meta/v1/types.go at kubernetes-1.35.7
(api 41839a1b, apimachinery dc5b4c59), every struct reachable from Pod.

STRUCTS: one struct per line (a line starting with spaces continues the one before): its name,
then each JSON field as ``name`` (a string) or ``name:type``; an embedded struct's fields
(``json:",inline"``: TypeMeta, ProbeHandler, VolumeSource...) are listed as its own, as Go's
decoder promotes them. Pointers are dropped (the decoder names the pointed-to type). A bare
type name is in package core/v1 and ``meta.`` in meta/v1 (both print as ``v1.``).
NAMED: the named non-struct types and their underlying type.
"""

STRUCTS = """
Pod kind apiVersion metadata:meta.ObjectMeta spec:PodSpec status:PodStatus
meta.LabelSelector matchLabels:map[string]string matchExpressions:[]meta.LabelSelectorRequirement
meta.LabelSelectorRequirement key operator:meta.LabelSelectorOperator values:[]string
meta.ManagedFieldsEntry manager operation:meta.ManagedFieldsOperationType apiVersion time:meta.Time fieldsType
  fieldsV1:meta.FieldsV1 subresource
meta.ObjectMeta name generateName namespace selfLink uid:types.UID resourceVersion generation:int64
  creationTimestamp:meta.Time deletionTimestamp:meta.Time deletionGracePeriodSeconds:int64 labels:map[string]string
  annotations:map[string]string ownerReferences:[]meta.OwnerReference finalizers:[]string
  managedFields:[]meta.ManagedFieldsEntry
meta.OwnerReference apiVersion kind name uid:types.UID controller:bool blockOwnerDeletion:bool
AWSElasticBlockStoreVolumeSource volumeID fsType partition:int32 readOnly:bool
Affinity nodeAffinity:NodeAffinity podAffinity:PodAffinity podAntiAffinity:PodAntiAffinity
AppArmorProfile type:AppArmorProfileType localhostProfile
AzureDiskVolumeSource diskName diskURI cachingMode:AzureDataDiskCachingMode fsType readOnly:bool
  kind:AzureDataDiskKind
AzureFileVolumeSource secretName shareName readOnly:bool
CSIVolumeSource driver readOnly:bool fsType volumeAttributes:map[string]string
  nodePublishSecretRef:LocalObjectReference
Capabilities add:[]Capability drop:[]Capability
CephFSVolumeSource monitors:[]string path user secretFile secretRef:LocalObjectReference readOnly:bool
CinderVolumeSource volumeID fsType readOnly:bool secretRef:LocalObjectReference
ClusterTrustBundleProjection name signerName labelSelector:meta.LabelSelector optional:bool path
ConfigMapEnvSource name optional:bool
ConfigMapKeySelector name key optional:bool
ConfigMapProjection name items:[]KeyToPath optional:bool
ConfigMapVolumeSource name items:[]KeyToPath defaultMode:int32 optional:bool
Container name image command:[]string args:[]string workingDir ports:[]ContainerPort envFrom:[]EnvFromSource
  env:[]EnvVar resources:ResourceRequirements resizePolicy:[]ContainerResizePolicy
  restartPolicy:ContainerRestartPolicy restartPolicyRules:[]ContainerRestartRule volumeMounts:[]VolumeMount
  volumeDevices:[]VolumeDevice livenessProbe:Probe readinessProbe:Probe startupProbe:Probe lifecycle:Lifecycle
  terminationMessagePath terminationMessagePolicy:TerminationMessagePolicy imagePullPolicy:PullPolicy
  securityContext:SecurityContext stdin:bool stdinOnce:bool tty:bool
ContainerExtendedResourceRequest containerName resourceName requestName
ContainerPort name hostPort:int32 containerPort:int32 protocol:Protocol hostIP
ContainerResizePolicy resourceName:ResourceName restartPolicy:ResourceResizeRestartPolicy
ContainerRestartRule action:ContainerRestartRuleAction exitCodes:ContainerRestartRuleOnExitCodes
ContainerRestartRuleOnExitCodes operator:ContainerRestartRuleOnExitCodesOperator values:[]int32
ContainerState waiting:ContainerStateWaiting running:ContainerStateRunning terminated:ContainerStateTerminated
ContainerStateRunning startedAt:meta.Time
ContainerStateTerminated exitCode:int32 signal:int32 reason message startedAt:meta.Time finishedAt:meta.Time
  containerID
ContainerStateWaiting reason message
ContainerStatus name state:ContainerState lastState:ContainerState ready:bool restartCount:int32 image imageID
  containerID started:bool allocatedResources:ResourceList resources:ResourceRequirements
  volumeMounts:[]VolumeMountStatus user:ContainerUser allocatedResourcesStatus:[]ResourceStatus stopSignal:Signal
ContainerUser linux:LinuxContainerUser
DownwardAPIProjection items:[]DownwardAPIVolumeFile
DownwardAPIVolumeFile path fieldRef:ObjectFieldSelector resourceFieldRef:ResourceFieldSelector mode:int32
DownwardAPIVolumeSource items:[]DownwardAPIVolumeFile defaultMode:int32
EmptyDirVolumeSource medium:StorageMedium sizeLimit:resource.Quantity
EnvFromSource prefix configMapRef:ConfigMapEnvSource secretRef:SecretEnvSource
EnvVar name value valueFrom:EnvVarSource
EnvVarSource fieldRef:ObjectFieldSelector resourceFieldRef:ResourceFieldSelector
  configMapKeyRef:ConfigMapKeySelector secretKeyRef:SecretKeySelector fileKeyRef:FileKeySelector
EphemeralContainer name image command:[]string args:[]string workingDir ports:[]ContainerPort
  envFrom:[]EnvFromSource env:[]EnvVar resources:ResourceRequirements resizePolicy:[]ContainerResizePolicy
  restartPolicy:ContainerRestartPolicy restartPolicyRules:[]ContainerRestartRule volumeMounts:[]VolumeMount
  volumeDevices:[]VolumeDevice livenessProbe:Probe readinessProbe:Probe startupProbe:Probe lifecycle:Lifecycle
  terminationMessagePath terminationMessagePolicy:TerminationMessagePolicy imagePullPolicy:PullPolicy
  securityContext:SecurityContext stdin:bool stdinOnce:bool tty:bool targetContainerName
EphemeralVolumeSource volumeClaimTemplate:PersistentVolumeClaimTemplate
ExecAction command:[]string
FCVolumeSource targetWWNs:[]string lun:int32 fsType readOnly:bool wwids:[]string
FileKeySelector volumeName path key optional:bool
FlexVolumeSource driver fsType secretRef:LocalObjectReference readOnly:bool options:map[string]string
FlockerVolumeSource datasetName datasetUUID
GCEPersistentDiskVolumeSource pdName fsType partition:int32 readOnly:bool
GRPCAction port:int32 service
GitRepoVolumeSource repository revision directory
GlusterfsVolumeSource endpoints path readOnly:bool
HTTPGetAction path port:intstr.IntOrString host scheme:URIScheme httpHeaders:[]HTTPHeader
HTTPHeader name value
HostAlias ip hostnames:[]string
HostIP ip
HostPathVolumeSource path type:HostPathType
ISCSIVolumeSource targetPortal iqn lun:int32 iscsiInterface fsType readOnly:bool portals:[]string
  chapAuthDiscovery:bool chapAuthSession:bool secretRef:LocalObjectReference initiatorName
ImageVolumeSource reference pullPolicy:PullPolicy
KeyToPath key path mode:int32
Lifecycle postStart:LifecycleHandler preStop:LifecycleHandler stopSignal:Signal
LifecycleHandler exec:ExecAction httpGet:HTTPGetAction tcpSocket:TCPSocketAction sleep:SleepAction
LinuxContainerUser uid:int64 gid:int64 supplementalGroups:[]int64
LocalObjectReference name
NFSVolumeSource server path readOnly:bool
NodeAffinity requiredDuringSchedulingIgnoredDuringExecution:NodeSelector
  preferredDuringSchedulingIgnoredDuringExecution:[]PreferredSchedulingTerm
NodeSelector nodeSelectorTerms:[]NodeSelectorTerm
NodeSelectorRequirement key operator:NodeSelectorOperator values:[]string
NodeSelectorTerm matchExpressions:[]NodeSelectorRequirement matchFields:[]NodeSelectorRequirement
ObjectFieldSelector apiVersion fieldPath
PersistentVolumeClaimSpec accessModes:[]PersistentVolumeAccessMode selector:meta.LabelSelector
  resources:VolumeResourceRequirements volumeName storageClassName volumeMode:PersistentVolumeMode
  dataSource:TypedLocalObjectReference dataSourceRef:TypedObjectReference volumeAttributesClassName
PersistentVolumeClaimTemplate metadata:meta.ObjectMeta spec:PersistentVolumeClaimSpec
PersistentVolumeClaimVolumeSource claimName readOnly:bool
PhotonPersistentDiskVolumeSource pdID fsType
PodAffinity requiredDuringSchedulingIgnoredDuringExecution:[]PodAffinityTerm
  preferredDuringSchedulingIgnoredDuringExecution:[]WeightedPodAffinityTerm
PodAffinityTerm labelSelector:meta.LabelSelector namespaces:[]string topologyKey
  namespaceSelector:meta.LabelSelector matchLabelKeys:[]string mismatchLabelKeys:[]string
PodAntiAffinity requiredDuringSchedulingIgnoredDuringExecution:[]PodAffinityTerm
  preferredDuringSchedulingIgnoredDuringExecution:[]WeightedPodAffinityTerm
PodCertificateProjection signerName keyType maxExpirationSeconds:int32 credentialBundlePath keyPath
  certificateChainPath userAnnotations:map[string]string
PodCondition type:PodConditionType observedGeneration:int64 status:ConditionStatus lastProbeTime:meta.Time
  lastTransitionTime:meta.Time reason message
PodDNSConfig nameservers:[]string searches:[]string options:[]PodDNSConfigOption
PodDNSConfigOption name value
PodExtendedResourceClaimStatus requestMappings:[]ContainerExtendedResourceRequest resourceClaimName
PodIP ip
PodOS name:OSName
PodReadinessGate conditionType:PodConditionType
PodResourceClaim name resourceClaimName resourceClaimTemplateName
PodResourceClaimStatus name resourceClaimName
PodSchedulingGate name
PodSecurityContext seLinuxOptions:SELinuxOptions windowsOptions:WindowsSecurityContextOptions runAsUser:int64
  runAsGroup:int64 runAsNonRoot:bool supplementalGroups:[]int64 supplementalGroupsPolicy:SupplementalGroupsPolicy
  fsGroup:int64 sysctls:[]Sysctl fsGroupChangePolicy:PodFSGroupChangePolicy seccompProfile:SeccompProfile
  appArmorProfile:AppArmorProfile seLinuxChangePolicy:PodSELinuxChangePolicy
PodSpec volumes:[]Volume initContainers:[]Container containers:[]Container ephemeralContainers:[]EphemeralContainer
  restartPolicy:RestartPolicy terminationGracePeriodSeconds:int64 activeDeadlineSeconds:int64 dnsPolicy:DNSPolicy
  nodeSelector:map[string]string serviceAccountName serviceAccount automountServiceAccountToken:bool nodeName
  hostNetwork:bool hostPID:bool hostIPC:bool shareProcessNamespace:bool securityContext:PodSecurityContext
  imagePullSecrets:[]LocalObjectReference hostname subdomain affinity:Affinity schedulerName
  tolerations:[]Toleration hostAliases:[]HostAlias priorityClassName priority:int32 dnsConfig:PodDNSConfig
  readinessGates:[]PodReadinessGate runtimeClassName enableServiceLinks:bool preemptionPolicy:PreemptionPolicy
  overhead:ResourceList topologySpreadConstraints:[]TopologySpreadConstraint setHostnameAsFQDN:bool os:PodOS
  hostUsers:bool schedulingGates:[]PodSchedulingGate resourceClaims:[]PodResourceClaim
  resources:ResourceRequirements hostnameOverride workloadRef:WorkloadReference
PodStatus observedGeneration:int64 phase:PodPhase conditions:[]PodCondition message reason nominatedNodeName hostIP
  hostIPs:[]HostIP podIP podIPs:[]PodIP startTime:meta.Time initContainerStatuses:[]ContainerStatus
  containerStatuses:[]ContainerStatus qosClass:PodQOSClass ephemeralContainerStatuses:[]ContainerStatus
  resize:PodResizeStatus resourceClaimStatuses:[]PodResourceClaimStatus
  extendedResourceClaimStatus:PodExtendedResourceClaimStatus allocatedResources:ResourceList
  resources:ResourceRequirements
PortworxVolumeSource volumeID fsType readOnly:bool
PreferredSchedulingTerm weight:int32 preference:NodeSelectorTerm
Probe exec:ExecAction httpGet:HTTPGetAction tcpSocket:TCPSocketAction grpc:GRPCAction initialDelaySeconds:int32
  timeoutSeconds:int32 periodSeconds:int32 successThreshold:int32 failureThreshold:int32
  terminationGracePeriodSeconds:int64
ProjectedVolumeSource sources:[]VolumeProjection defaultMode:int32
QuobyteVolumeSource registry volume readOnly:bool user group tenant
RBDVolumeSource monitors:[]string image fsType pool user keyring secretRef:LocalObjectReference readOnly:bool
ResourceClaim name request
ResourceFieldSelector containerName resource divisor:resource.Quantity
ResourceHealth resourceID:ResourceID health:ResourceHealthStatus
ResourceRequirements limits:ResourceList requests:ResourceList claims:[]ResourceClaim
ResourceStatus name:ResourceName resources:[]ResourceHealth
SELinuxOptions user role type level
ScaleIOVolumeSource gateway system secretRef:LocalObjectReference sslEnabled:bool protectionDomain storagePool
  storageMode volumeName fsType readOnly:bool
SeccompProfile type:SeccompProfileType localhostProfile
SecretEnvSource name optional:bool
SecretKeySelector name key optional:bool
SecretProjection name items:[]KeyToPath optional:bool
SecretVolumeSource secretName items:[]KeyToPath defaultMode:int32 optional:bool
SecurityContext capabilities:Capabilities privileged:bool seLinuxOptions:SELinuxOptions
  windowsOptions:WindowsSecurityContextOptions runAsUser:int64 runAsGroup:int64 runAsNonRoot:bool
  readOnlyRootFilesystem:bool allowPrivilegeEscalation:bool procMount:ProcMountType seccompProfile:SeccompProfile
  appArmorProfile:AppArmorProfile
ServiceAccountTokenProjection audience expirationSeconds:int64 path
SleepAction seconds:int64
StorageOSVolumeSource volumeName volumeNamespace fsType readOnly:bool secretRef:LocalObjectReference
Sysctl name value
TCPSocketAction port:intstr.IntOrString host
Toleration key operator:TolerationOperator value effect:TaintEffect tolerationSeconds:int64
TopologySpreadConstraint maxSkew:int32 topologyKey whenUnsatisfiable:UnsatisfiableConstraintAction
  labelSelector:meta.LabelSelector minDomains:int32 nodeAffinityPolicy:NodeInclusionPolicy
  nodeTaintsPolicy:NodeInclusionPolicy matchLabelKeys:[]string
TypedLocalObjectReference apiGroup kind name
TypedObjectReference apiGroup kind name namespace
Volume name hostPath:HostPathVolumeSource emptyDir:EmptyDirVolumeSource
  gcePersistentDisk:GCEPersistentDiskVolumeSource awsElasticBlockStore:AWSElasticBlockStoreVolumeSource
  gitRepo:GitRepoVolumeSource secret:SecretVolumeSource nfs:NFSVolumeSource iscsi:ISCSIVolumeSource
  glusterfs:GlusterfsVolumeSource persistentVolumeClaim:PersistentVolumeClaimVolumeSource rbd:RBDVolumeSource
  flexVolume:FlexVolumeSource cinder:CinderVolumeSource cephfs:CephFSVolumeSource flocker:FlockerVolumeSource
  downwardAPI:DownwardAPIVolumeSource fc:FCVolumeSource azureFile:AzureFileVolumeSource
  configMap:ConfigMapVolumeSource vsphereVolume:VsphereVirtualDiskVolumeSource quobyte:QuobyteVolumeSource
  azureDisk:AzureDiskVolumeSource photonPersistentDisk:PhotonPersistentDiskVolumeSource
  projected:ProjectedVolumeSource portworxVolume:PortworxVolumeSource scaleIO:ScaleIOVolumeSource
  storageos:StorageOSVolumeSource csi:CSIVolumeSource ephemeral:EphemeralVolumeSource image:ImageVolumeSource
VolumeDevice name devicePath
VolumeMount name readOnly:bool recursiveReadOnly:RecursiveReadOnlyMode mountPath subPath
  mountPropagation:MountPropagationMode subPathExpr
VolumeMountStatus name mountPath readOnly:bool recursiveReadOnly:RecursiveReadOnlyMode
VolumeProjection secret:SecretProjection downwardAPI:DownwardAPIProjection configMap:ConfigMapProjection
  serviceAccountToken:ServiceAccountTokenProjection clusterTrustBundle:ClusterTrustBundleProjection
  podCertificate:PodCertificateProjection
VolumeResourceRequirements limits:ResourceList requests:ResourceList
VsphereVirtualDiskVolumeSource volumePath fsType storagePolicyName storagePolicyID
WeightedPodAffinityTerm weight:int32 podAffinityTerm:PodAffinityTerm
WindowsSecurityContextOptions gmsaCredentialSpecName gmsaCredentialSpec runAsUserName hostProcess:bool
WorkloadReference name podGroup podGroupReplicaKey
"""

NAMED = """
meta.LabelSelectorOperator=string meta.ManagedFieldsOperationType=string AppArmorProfileType=string
AzureDataDiskCachingMode=string AzureDataDiskKind=string Capability=string ConditionStatus=string
ContainerRestartPolicy=string ContainerRestartRuleAction=string ContainerRestartRuleOnExitCodesOperator=string
DNSPolicy=string HostPathType=string MountPropagationMode=string NodeInclusionPolicy=string
NodeSelectorOperator=string OSName=string PersistentVolumeAccessMode=string PersistentVolumeMode=string
PodConditionType=string PodFSGroupChangePolicy=string PodPhase=string PodQOSClass=string PodResizeStatus=string
PodSELinuxChangePolicy=string PreemptionPolicy=string ProcMountType=string Protocol=string PullPolicy=string
RecursiveReadOnlyMode=string ResourceHealthStatus=string ResourceID=string
ResourceList=map[ResourceName]resource.Quantity ResourceName=string ResourceResizeRestartPolicy=string
RestartPolicy=string SeccompProfileType=string Signal=string StorageMedium=string SupplementalGroupsPolicy=string
TaintEffect=string TerminationMessagePolicy=string TolerationOperator=string URIScheme=string
UnsatisfiableConstraintAction=string types.UID=string
"""
