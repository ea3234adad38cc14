package pubsub

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/parley-xmpp/parley/xmpp/form"
)

// Access models (XEP-0060 §4.5).
const (
	AccessOpen      = "open"
	AccessPresence  = "presence"
	AccessRoster    = "roster"
	AccessWhitelist = "whitelist"
)

// Publish models (pubsub#publish_model).
const (
	PublishPublishers  = "publishers"
	PublishSubscribers = "subscribers"
	PublishOpen        = "open"
)

// send_last_published_item values.
const (
	SendNever            = "never"
	SendOnSub            = "on_sub"
	SendOnSubAndPresence = "on_sub_and_presence"
)

// MaxItemsMax is Config.MaxItems for pubsub#max_items "max": the
// service's own limit.
const MaxItemsMax = -1

// Node configuration field names and values.
const (
	maxItemsMaxValue       = "max"
	fieldAccessModel       = "pubsub#access_model"
	fieldRosterGroups      = "pubsub#roster_groups_allowed"
	fieldPublishModel      = "pubsub#publish_model"
	fieldPersistItems      = "pubsub#persist_items"
	fieldMaxItems          = "pubsub#max_items"
	fieldSendLast          = "pubsub#send_last_published_item"
	fieldDeliverNotify     = "pubsub#deliver_notifications"
	fieldDeliverPayloads   = "pubsub#deliver_payloads"
	fieldNotifyRetract     = "pubsub#notify_retract"
	fieldNotifyDelete      = "pubsub#notify_delete"
	fieldNotifyConfig      = "pubsub#notify_config"
	fieldTitle             = "pubsub#title"
	fieldType              = "pubsub#type"
	fieldNotificationType  = "pubsub#notification_type"
	notificationHeadline   = "headline"
	notificationNormal     = "normal"
	defaultMaxItemsPersist = 1
)

// Config is a node configuration (pubsub#node_config, XEP-0060 §16.4.4).
type Config struct {
	Title                 string
	Type                  string // payload namespace, informative
	AccessModel           string
	RosterGroupsAllowed   []string
	PublishModel          string
	PersistItems          bool
	MaxItems              int // MaxItemsMax for "max"
	SendLastPublishedItem string
	DeliverNotifications  bool
	DeliverPayloads       bool
	NotifyRetract         bool
	NotifyDelete          bool
	NotifyConfig          bool
	NotificationType      string // "headline" or "normal"
}

// DefaultPEP is the default configuration of a PEP node (XEP-0163 §5:
// presence access, last item on subscription and presence, payloads
// delivered).
func DefaultPEP() Config {
	return Config{
		AccessModel:           AccessPresence,
		PublishModel:          PublishPublishers,
		PersistItems:          true,
		MaxItems:              defaultMaxItemsPersist,
		SendLastPublishedItem: SendOnSubAndPresence,
		DeliverNotifications:  true,
		DeliverPayloads:       true,
		NotifyRetract:         true,
		NotifyDelete:          true,
		NotificationType:      notificationHeadline,
	}
}

// DefaultService is the default configuration of a node of a pubsub
// service: open access, persistent items.
func DefaultService() Config {
	c := DefaultPEP()
	c.AccessModel = AccessOpen
	c.MaxItems = 10
	c.SendLastPublishedItem = SendOnSub
	return c
}

type spec struct {
	name, typ, label string
	options          []string
	get              func(*Config) []string
	set              func(*Config, []string) error
}

func single(vals []string) (string, error) {
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return strings.TrimSpace(vals[0]), nil
	}
	return "", fmt.Errorf("%w: several values", ErrInvalid)
}

func boolSpec(name, label string, p func(*Config) *bool) spec {
	return spec{name: name, typ: form.FieldBoolean, label: label,
		get: func(c *Config) []string {
			if *p(c) {
				return []string{"1"}
			}
			return []string{"0"}
		},
		set: func(c *Config, v []string) error {
			s, err := single(v)
			if err != nil {
				return err
			}
			b, err := form.ParseBool(s)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrInvalid, err)
			}
			*p(c) = b
			return nil
		}}
}

func listSpec(name, label string, options []string, p func(*Config) *string) spec {
	return spec{name: name, typ: form.FieldListSingle, label: label, options: options,
		get: func(c *Config) []string { return []string{*p(c)} },
		set: func(c *Config, v []string) error {
			s, err := single(v)
			if err != nil {
				return err
			}
			if !slices.Contains(options, s) {
				return fmt.Errorf("%w: %q is not one of %v", ErrInvalid, s, options)
			}
			*p(c) = s
			return nil
		}}
}

func textSpec(name, label string, p func(*Config) *string) spec {
	return spec{name: name, typ: form.FieldTextSingle, label: label,
		get: func(c *Config) []string {
			if *p(c) == "" {
				return nil
			}
			return []string{*p(c)}
		},
		set: func(c *Config, v []string) error {
			s, err := single(v)
			*p(c) = s
			return err
		}}
}

// specs is the table of supported node configuration fields.
func specs() []spec {
	return []spec{
		textSpec(fieldTitle, "A friendly name for the node", func(c *Config) *string { return &c.Title }),
		textSpec(fieldType, "The type of node data, usually a namespace", func(c *Config) *string { return &c.Type }),
		listSpec(fieldAccessModel, "Who may subscribe and retrieve items",
			[]string{AccessOpen, AccessPresence, AccessRoster, AccessWhitelist}, func(c *Config) *string { return &c.AccessModel }),
		{name: fieldRosterGroups, typ: form.FieldListMulti, label: "Roster groups allowed to subscribe",
			get: func(c *Config) []string { return slices.Clone(c.RosterGroupsAllowed) },
			set: func(c *Config, v []string) error { c.RosterGroupsAllowed = slices.Clone(v); return nil }},
		listSpec(fieldPublishModel, "Who may publish items",
			[]string{PublishPublishers, PublishSubscribers, PublishOpen}, func(c *Config) *string { return &c.PublishModel }),
		boolSpec(fieldPersistItems, "Persist items to storage", func(c *Config) *bool { return &c.PersistItems }),
		{name: fieldMaxItems, typ: form.FieldTextSingle, label: "Max number of items to persist",
			get: func(c *Config) []string {
				if c.MaxItems == MaxItemsMax {
					return []string{maxItemsMaxValue}
				}
				return []string{strconv.Itoa(c.MaxItems)}
			},
			set: func(c *Config, v []string) error {
				s, err := single(v)
				if err != nil {
					return err
				}
				if s == maxItemsMaxValue {
					c.MaxItems = MaxItemsMax
					return nil
				}
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 {
					return fmt.Errorf("%w: max_items %q", ErrInvalid, s)
				}
				c.MaxItems = n
				return nil
			}},
		listSpec(fieldSendLast, "When to send the last published item",
			[]string{SendNever, SendOnSub, SendOnSubAndPresence}, func(c *Config) *string { return &c.SendLastPublishedItem }),
		boolSpec(fieldDeliverNotify, "Deliver event notifications", func(c *Config) *bool { return &c.DeliverNotifications }),
		boolSpec(fieldDeliverPayloads, "Deliver payloads with event notifications", func(c *Config) *bool { return &c.DeliverPayloads }),
		boolSpec(fieldNotifyRetract, "Notify subscribers when items are removed", func(c *Config) *bool { return &c.NotifyRetract }),
		boolSpec(fieldNotifyDelete, "Notify subscribers when the node is deleted", func(c *Config) *bool { return &c.NotifyDelete }),
		boolSpec(fieldNotifyConfig, "Notify subscribers when the configuration changes", func(c *Config) *bool { return &c.NotifyConfig }),
		listSpec(fieldNotificationType, "The message type of notifications",
			[]string{notificationHeadline, notificationNormal}, func(c *Config) *string { return &c.NotificationType }),
	}
}

func findSpec(name string) (spec, bool) {
	for _, s := range specs() {
		if s.name == name {
			return s, true
		}
	}
	return spec{}, false
}

// Values returns the configuration as field values keyed by var, the
// form in which storage keeps it.
func (c Config) Values() map[string][]string {
	out := make(map[string][]string)
	for _, s := range specs() {
		out[s.name] = s.get(&c)
	}
	return out
}

// ConfigFromValues rebuilds a configuration from stored values over base;
// unknown or invalid values keep base's.
func ConfigFromValues(base Config, v map[string][]string) Config {
	c := base
	for _, s := range specs() {
		if vals, ok := v[s.name]; ok {
			_ = s.set(&c, vals)
		}
	}
	return c
}

// Form returns the configuration as a data form of the given type with
// FORM_TYPE formType (NSNodeConfig, NSPublishOptions).
func (c Config) Form(formType, typ string) *form.Form {
	f := form.New(typ, formType)
	for _, s := range specs() {
		fl := form.Field{Var: s.name, Values: s.get(&c)}
		if typ == form.TypeForm {
			fl.Type, fl.Label = s.typ, s.label
			for _, o := range s.options {
				fl.Extra = append(fl.Extra, optionEl(o))
			}
		}
		f.Add(fl)
	}
	return f
}

// Apply sets the fields of a submitted form (FORM_TYPE aside); an unknown
// field or an invalid value is an error wrapping ErrInvalid, and c is then
// unchanged.
func (c *Config) Apply(f *form.Form) error {
	next := *c
	next.RosterGroupsAllowed = slices.Clone(c.RosterGroupsAllowed)
	for _, fl := range f.Fields {
		if fl.Var == form.FormTypeVar {
			continue
		}
		s, ok := findSpec(fl.Var)
		if !ok {
			return fmt.Errorf("%w: unknown field %q", ErrInvalid, fl.Var)
		}
		if err := s.set(&next, fl.Values); err != nil {
			return fmt.Errorf("field %q: %w", fl.Var, err)
		}
	}
	*c = next
	return nil
}

// Meets reports whether the configuration satisfies every precondition of
// a publish-options form (XEP-0060 §7.1.5): each field must be a known
// one whose value equals the configuration's. It returns the first field
// that fails.
func (c Config) Meets(f *form.Form) (string, bool) {
	for _, fl := range f.Fields {
		if fl.Var == form.FormTypeVar {
			continue
		}
		s, ok := findSpec(fl.Var)
		if !ok {
			return fl.Var, false
		}
		want := c
		if err := s.set(&want, fl.Values); err != nil {
			return fl.Var, false
		}
		a, b := s.get(&want), s.get(&c)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			return fl.Var, false
		}
	}
	return "", true
}
