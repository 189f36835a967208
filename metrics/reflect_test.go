package metrics

import "reflect"

func setAll(c *Counters, v int64) {
	rv := reflect.ValueOf(c).Elem()
	for i := range rv.NumField() {
		f := rv.Field(i)
		switch f.Kind() {
		case reflect.Int64:
			f.SetInt(v)
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]int64{"1000": v, "s": v}))
		}
	}
}

func numericFields(c *Counters) map[string]int64 {
	out := map[string]int64{}
	rv := reflect.ValueOf(c).Elem()
	for i := range rv.NumField() {
		if rv.Field(i).Kind() == reflect.Int64 {
			out[rv.Type().Field(i).Name] = rv.Field(i).Int()
		}
	}
	return out
}
