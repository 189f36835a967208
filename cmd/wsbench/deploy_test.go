package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/wsbench/wsbench/scenario"
)

// No cluster runs here, so the manifests of deploy/kubernetes are checked
// the way an API server would read them: every document decoded strictly
// into its Kubernetes API type (an unknown or misspelt field, a duplicate
// key or a wrong type is an error), then checked for what a distributed
// run needs: the arguments parse with this build's own flags, the worker
// count agrees everywhere, the workers dial the coordinator's Service,
// the scenario in the ConfigMap is valid, and the pods run as non-root
// with the sysctl and resources the guide promises.
func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../deploy/kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var (
		services   []*corev1.Service
		jobs       []*batchv1.Job
		configMaps []*corev1.ConfigMap
		secrets    []*corev1.Secret
		namespaces []*corev1.Namespace
	)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitYAML(data) {
			where := fmt.Sprintf("%s document %d", filepath.Base(f), i+1)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "v1 Service":
				o := new(corev1.Service)
				services, obj = append(services, o), o
			case "batch/v1 Job":
				o := new(batchv1.Job)
				jobs, obj = append(jobs, o), o
			case "v1 ConfigMap":
				o := new(corev1.ConfigMap)
				configMaps, obj = append(configMaps, o), o
			case "v1 Secret":
				o := new(corev1.Secret)
				secrets, obj = append(secrets, o), o
			case "v1 Namespace":
				o := new(corev1.Namespace)
				namespaces, obj = append(namespaces, o), o
			default:
				t.Fatalf("%s: %s %s is not a kind this test knows; add it", where, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s (%s): %v", where, tm.Kind, err)
			}
		}
	}
	// The decoding is strict: a misspelt field is an error, not ignored.
	if err := yaml.UnmarshalStrict([]byte("apiVersion: batch/v1\nkind: Job\nspec:\n  completionMod: Indexed\n"), new(batchv1.Job)); err == nil {
		t.Fatal("a misspelt field decoded without error: the check would not catch one")
	}
	if len(namespaces) != 1 || len(services) != 1 || len(jobs) != 2 || len(configMaps) != 1 || len(secrets) != 1 {
		t.Fatalf("want a namespace, a Service, two Jobs, a ConfigMap and a Secret; got %d, %d, %d, %d, %d",
			len(namespaces), len(services), len(jobs), len(configMaps), len(secrets))
	}
	ns := namespaces[0].Name
	for _, m := range []metav1.ObjectMeta{services[0].ObjectMeta, jobs[0].ObjectMeta, jobs[1].ObjectMeta, configMaps[0].ObjectMeta, secrets[0].ObjectMeta} {
		if m.Namespace != ns {
			t.Errorf("%s is in namespace %q, not %q", m.Name, m.Namespace, ns)
		}
	}
	var coordJob, workerJob *batchv1.Job
	for _, j := range jobs {
		switch j.Spec.Template.Spec.Containers[0].Args[0] {
		case "coordinate":
			coordJob = j
		case "worker":
			workerJob = j
		}
	}
	if coordJob == nil || workerJob == nil {
		t.Fatal("want a coordinate Job and a worker Job")
	}

	// The arguments parse with this build's flags.
	var co coordinateOptions
	cfs, _ := coordinateFlags(&co)
	cc := coordJob.Spec.Template.Spec.Containers[0]
	if err := cfs.Parse(cc.Args[1:]); err != nil || cfs.NArg() != 1 {
		t.Fatalf("coordinator args %q: %v (%d arguments)", cc.Args, err, cfs.NArg())
	}
	var wo workerOptions
	wfs := workerFlags(&wo)
	wc := workerJob.Spec.Template.Spec.Containers[0]
	if err := wfs.Parse(wc.Args[1:]); err != nil || wfs.NArg() != 0 {
		t.Fatalf("worker args %q: %v", wc.Args, err)
	}

	// One worker count: the coordinator waits for as many as the Indexed
	// Job runs at once.
	ws := workerJob.Spec
	if ws.CompletionMode == nil || *ws.CompletionMode != batchv1.IndexedCompletion {
		t.Error("the workers' Job is not Indexed: its pods would not know their share")
	}
	if ws.Completions == nil || ws.Parallelism == nil || int(*ws.Completions) != co.run.workers || int(*ws.Parallelism) != co.run.workers {
		t.Errorf("workers Job completions %v parallelism %v, coordinator --workers %d: they must agree", ws.Completions, ws.Parallelism, co.run.workers)
	}
	for _, j := range jobs {
		if j.Spec.BackoffLimit == nil || *j.Spec.BackoffLimit != 0 || j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("Job %s: a restarted coordinator or worker cannot rejoin its run; want backoffLimit 0, restartPolicy Never", j.Name)
		}
	}

	// The workers dial the coordinator's Service, on the port it listens on.
	svc := services[0]
	port := svc.Spec.Ports[0]
	if want := fmt.Sprintf("%s.%s.svc:%d", svc.Name, svc.Namespace, port.Port); wo.coordinator != want {
		t.Errorf("workers dial %q, the Service is %q", wo.coordinator, want)
	}
	if !strings.HasSuffix(co.listen, fmt.Sprintf(":%d", cc.Ports[0].ContainerPort)) || port.TargetPort.String() != cc.Ports[0].Name {
		t.Errorf("coordinator listens on %q, its container port is %d (%s), the Service targets %s", co.listen, cc.Ports[0].ContainerPort, cc.Ports[0].Name, port.TargetPort.String())
	}
	for k, v := range svc.Spec.Selector {
		if coordJob.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the coordinator's pod does not carry", k, v)
		}
	}

	// Files the arguments name are mounted from the objects that hold them.
	checkMounted(t, coordJob, []string{co.tlsCert, co.tlsKey, co.tokenFile, cfs.Arg(0)}, configMaps[0], secrets[0])
	checkMounted(t, workerJob, []string{wo.tlsCA, wo.tokenFile}, configMaps[0], secrets[0])

	// The scenario is valid and aims at an address every worker can reach.
	src, ok := configMaps[0].Data[filepath.Base(cfs.Arg(0))]
	if !ok {
		t.Fatalf("the ConfigMap has no %s", filepath.Base(cfs.Arg(0)))
	}
	sc, err := scenario.Parse("scenario.yaml", []byte(src))
	if err != nil {
		t.Fatalf("the ConfigMap's scenario: %v", err)
	}
	if !strings.HasPrefix(sc.Target, "ws://") && !strings.HasPrefix(sc.Target, "wss://") {
		t.Errorf("scenario target %q: remote workers need a ws:// address", sc.Target)
	}

	// The pods: non-root, resources requested, and the workers' sysctl.
	for _, j := range jobs {
		ps := j.Spec.Template.Spec
		c := ps.Containers[0]
		if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
			t.Errorf("Job %s: not runAsNonRoot", j.Name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("Job %s: want CPU and memory requests and a memory limit, got %v", j.Name, c.Resources)
		}
	}
	sysctls := workerJob.Spec.Template.Spec.SecurityContext.Sysctls
	if !slices.ContainsFunc(sysctls, func(s corev1.Sysctl) bool { return s.Name == "net.ipv4.ip_local_port_range" }) {
		t.Errorf("worker sysctls %v: want net.ipv4.ip_local_port_range", sysctls)
	}
	if _, ok := secrets[0].StringData["token"]; !ok {
		t.Error("the Secret has no token")
	}
}

// checkMounted checks that each file is under a volume mount of job's
// container whose volume is cm or secret, and that the item exists.
func checkMounted(t *testing.T, job *batchv1.Job, files []string, cm *corev1.ConfigMap, secret *corev1.Secret) {
	t.Helper()
	ps := job.Spec.Template.Spec
	for _, f := range files {
		found := false
		for _, m := range ps.Containers[0].VolumeMounts {
			if filepath.Dir(f) != filepath.Clean(m.MountPath) {
				continue
			}
			for _, v := range ps.Volumes {
				if v.Name != m.Name {
					continue
				}
				key := filepath.Base(f)
				switch {
				case v.ConfigMap != nil && v.ConfigMap.Name == cm.Name:
					_, found = cm.Data[key]
				case v.Secret != nil && v.Secret.SecretName == secret.Name:
					_, found = secret.StringData[key]
					if len(v.Secret.Items) > 0 {
						found = found && slices.ContainsFunc(v.Secret.Items, func(k corev1.KeyToPath) bool { return k.Path == key })
					}
				}
			}
		}
		if !found {
			t.Errorf("Job %s: %s is not mounted from the ConfigMap or the Secret", job.Name, f)
		}
	}
}

// splitYAML splits a multi-document YAML file at its "---" lines.
func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if strings.TrimSpace(stripComments(cur.String())) != "" {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if strings.TrimRight(sc.Text(), " ") == "---" {
			flush()
			continue
		}
		cur.WriteString(sc.Text() + "\n")
	}
	flush()
	return docs
}

var commentLine = regexp.MustCompile(`(?m)^\s*#.*$`)

func stripComments(s string) string { return commentLine.ReplaceAllString(s, "") }

// The Dockerfile the guide uses: two stages, a static binary built
// without cgo, and a runtime stage that runs as a numeric non-root user
// (Kubernetes can only check runAsNonRoot against a number).
func TestDockerfile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms, runs []string
	var user, entry string
	// Instructions, with their continuation lines joined.
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, l)
		case "RUN":
			runs = append(runs, l)
		case "USER":
			user = f[1]
		case "ENTRYPOINT":
			entry = l
		}
	}
	if len(froms) < 2 || !strings.Contains(froms[0], " AS build") || strings.Contains(froms[len(froms)-1], "golang") {
		t.Errorf("stages %q: want a build stage and a runtime stage without the toolchain", froms)
	}
	build := strings.Join(runs, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "go build", "./cmd/wsbench", "-trimpath"} {
		if !strings.Contains(build, want) {
			t.Errorf("no %q in the build: the binary must be static and reproducible", want)
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || strings.Trim(uid, "0123456789") != "" {
		t.Errorf("USER %q: want a numeric non-root user", user)
	}
	if !strings.Contains(entry, "wsbench") {
		t.Errorf("ENTRYPOINT %q: want the wsbench binary", entry)
	}
	// The version in go.mod's go line is the build stage's toolchain.
	mod, _ := os.ReadFile("../../go.mod")
	if m := regexp.MustCompile(`(?m)^go (1\.\d+)`).FindSubmatch(mod); m == nil || !strings.Contains(froms[0], "golang:"+string(m[1])) {
		t.Errorf("build stage %q does not use the Go of go.mod", froms[0])
	}
}
