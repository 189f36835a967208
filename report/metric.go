package report

import (
	"github.com/wsbench/wsbench/metrics"
)

// NewMetric summarises h. The histogram is stored whole, so the summary can
// always be recomputed (and merged) from the report alone.
func NewMetric(h *metrics.Histogram) (*Metric, error) {
	enc, err := metrics.EncodeHistogram(h)
	if err != nil {
		return nil, err
	}
	m := Summarize(h)
	m.HDR = enc
	return m, nil
}

var summaryPercentiles = [...]float64{50, 90, 95, 99, 99.9}

// Summarize computes the statistics of h without encoding it.
func Summarize(h *metrics.Histogram) *Metric {
	if h.TotalCount() == 0 {
		return &Metric{}
	}
	p := h.ValueAtPercentilesSlice(summaryPercentiles[:])
	return &Metric{
		Count:  h.TotalCount(),
		MinUS:  h.Min(),
		MeanUS: h.Mean(),
		StdUS:  h.StdDev(),
		P50US:  p[0],
		P90US:  p[1],
		P95US:  p[2],
		P99US:  p[3],
		P999US: p[4],
		MaxUS:  h.Max(),
	}
}

// Histogram decodes the metric's full histogram.
func (m *Metric) Histogram() (*metrics.Histogram, error) {
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
