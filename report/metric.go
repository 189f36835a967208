package report

import (
	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/metrics"
)

// NewMetric summarises h. The histogram is stored whole, so the summary can
// always be recomputed (and merged) from the report alone.
func NewMetric(h *hdr.Histogram) (*Metric, error) {
	enc, err := metrics.EncodeHistogram(h)
	if err != nil {
		return nil, err
	}
	m := Summarize(h)
	m.HDR = enc
	return m, nil
}

// Summarize computes the statistics of h without encoding it.
func Summarize(h *hdr.Histogram) *Metric {
	if h.TotalCount() == 0 {
		return &Metric{}
	}
	p := h.ValueAtPercentiles([]float64{50, 90, 95, 99, 99.9})
	return &Metric{
		Count:  h.TotalCount(),
		MinUS:  h.Min(),
		MeanUS: h.Mean(),
		StdUS:  h.StdDev(),
		P50US:  p[50],
		P90US:  p[90],
		P95US:  p[95],
		P99US:  p[99],
		P999US: p[99.9],
		MaxUS:  h.Max(),
	}
}

// Histogram decodes the metric's full histogram.
func (m *Metric) Histogram() (*hdr.Histogram, error) {
	return metrics.DecodeHistogram(m.HDR)
}

// Percentile returns the value at percentile p (0 to 100) from the full
// histogram, for statistics the summary does not hold.
func (m *Metric) Percentile(p float64) (int64, error) {
	h, err := m.Histogram()
	if err != nil {
		return 0, err
	}
	return h.ValueAtPercentile(p), nil
}
