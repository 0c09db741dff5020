//! The invoice data dialogue as a rule: from the form collected so far and the customer's answer,
//! the next form, whether to keep it or invoice, and what to ask next. No I/O: the chat flow
//! (`chat_flow`) loads and seals the form, sends what this asks for and stamps at the end. It lives
//! beside invoicing rather than in `mostrador-core` because it speaks SAT's catalogs
//! (`mostrador-cfdi`: RFC, régimen, uso, código postal, país), which sit above the core.
//!
//! The steps: RFC → nombre → código postal → régimen → uso → confirm. A generic RFC (no RFC, or
//! from abroad) has one régimen, one uso and the branch's postal code: nothing more to ask, except
//! a foreign customer's country and tax number. Stored data is offered first (`Reuse`).

use super::fiscal::CustomerFiscal;
use mostrador_cfdi::catalogs::{CodigoPostal, RegimenFiscal, UsoCfdi};
use mostrador_cfdi::model::Nombre;
use mostrador_cfdi::rfc::{Rfc, TipoPersona};
use serde::{Deserialize, Serialize};

/// Where the form stands.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Step {
    #[default]
    Rfc,
    Nombre,
    CodigoPostal,
    Regimen,
    Uso,
    /// A foreign customer (XEXX010101000): their country of tax residence.
    Pais,
    /// A foreign customer: their tax number abroad, or "no tengo".
    NumRegIdTrib,
    Confirm,
    /// Stored data was shown; waiting for "use it" or "change it".
    Reuse,
}

/// The invoice data collected so far for one order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Form {
    pub(crate) step: Step,
    pub(crate) order_id: String,
    pub(crate) rfc: String,
    pub(crate) nombre: String,
    pub(crate) codigo_postal: String,
    pub(crate) regimen_fiscal: String,
    pub(crate) uso_cfdi: String,
    #[serde(default)]
    pub(crate) residencia_fiscal: Option<String>,
    #[serde(default)]
    pub(crate) num_reg_id_trib: Option<String>,
}

impl Form {
    pub(crate) fn fiscal(&self) -> CustomerFiscal {
        CustomerFiscal {
            rfc: self.rfc.clone(),
            nombre: self.nombre.clone(),
            codigo_postal: self.codigo_postal.clone(),
            regimen_fiscal: self.regimen_fiscal.clone(),
            uso_cfdi: self.uso_cfdi.clone(),
            residencia_fiscal: self.residencia_fiscal.clone(),
            num_reg_id_trib: self.num_reg_id_trib.clone(),
        }
    }

    /// The same order's form, from the start.
    fn restarted(&self) -> Form {
        Form {
            order_id: self.order_id.clone(),
            ..Form::default()
        }
    }
}

/// What to ask the customer next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ask {
    Text(String),
    /// The data collected, with "invoice" and "correct" buttons.
    Confirm,
    /// The list of régimenes for the RFC's kind of person.
    Regimen,
    /// The list of usos the régimen admits.
    Uso {
        regimen: RegimenFiscal,
        tipo: TipoPersona,
    },
}

/// What becomes of the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Then {
    /// Keep the form as it now is.
    Save,
    /// Nothing changed worth keeping (a wrong answer is asked again).
    Keep,
    /// The customer confirmed: invoice with it.
    Finish,
}

fn again(reason: &str) -> Ask {
    Ask::Text(format!("{reason} Escríbelo de nuevo, por favor."))
}

fn text(t: &str) -> Ask {
    Ask::Text(t.to_owned())
}

/// The customer answered `answer` (typed text, or a button's or list row's id) at the form's step.
pub(crate) fn answer(form: &mut Form, answer: &str) -> (Then, Vec<Ask>) {
    match form.step {
        Step::Reuse | Step::Confirm => match answer {
            "fac:ok" => (Then::Finish, vec![]),
            "fac:cambiar" => {
                let first = if form.step == Step::Reuse {
                    "1/5 ¿Cuál es tu RFC?"
                } else {
                    "Va de nuevo. 1/5 ¿Cuál es tu RFC?"
                };
                *form = form.restarted();
                (Then::Save, vec![text(first)])
            }
            _ if form.step == Step::Reuse => (
                Then::Keep,
                vec![text("Toca *Sí, facturar* o *Cambiar datos* (o escribe *cancelar*).")],
            ),
            _ => (
                Then::Keep,
                vec![text("Toca *Sí, facturar* o *Corregir* (o escribe *cancelar*).")],
            ),
        },
        Step::Rfc => match Rfc::parse(answer) {
            Ok(rfc) => {
                form.rfc = rfc.as_str().to_owned();
                form.step = Step::Nombre;
                (
                    Then::Save,
                    vec![text("2/5 ¿Cuál es tu nombre o razón social, tal como está en tu Constancia? (sin \"S.A. de C.V.\")")],
                )
            }
            Err(e) => (Then::Keep, vec![again(&e.message)]),
        },
        Step::Nombre => {
            let tipo = Rfc::parse(&form.rfc).map(|r| r.tipo());
            match tipo.map(|t| Nombre::parse(answer, t)) {
                Ok(Ok(nombre)) => {
                    form.nombre = nombre.to_string();
                    if matches!(form.rfc.as_str(), Rfc::PUBLICO_EN_GENERAL | Rfc::EXTRANJERO) {
                        form.codigo_postal = String::new();
                        form.regimen_fiscal = "616".into();
                        form.uso_cfdi = "S01".into();
                        if form.rfc == Rfc::EXTRANJERO {
                            form.step = Step::Pais;
                            return (
                                Then::Save,
                                vec![text("3/4 ¿En qué país tienes tu residencia fiscal? (por ejemplo Estados Unidos o USA)")],
                            );
                        }
                        form.step = Step::Confirm;
                        return (Then::Save, vec![Ask::Confirm]);
                    }
                    form.step = Step::CodigoPostal;
                    (
                        Then::Save,
                        vec![text(
                            "3/5 ¿Cuál es el código postal de tu domicilio fiscal? (5 dígitos)",
                        )],
                    )
                }
                Ok(Err(e)) | Err(e) => (Then::Keep, vec![again(&e.message)]),
            }
        }
        Step::CodigoPostal => match CodigoPostal::parse(answer) {
            Ok(cp) => {
                form.codigo_postal = cp.to_string();
                form.step = Step::Regimen;
                (Then::Save, vec![Ask::Regimen])
            }
            Err(e) => (Then::Keep, vec![again(&e.message)]),
        },
        Step::Regimen => {
            let code = answer.strip_prefix("reg:").unwrap_or(answer);
            let tipo = Rfc::parse(&form.rfc).map(|r| r.tipo());
            match (RegimenFiscal::parse(code), tipo) {
                (Ok(r), Ok(t)) if r.admite(t) => {
                    form.regimen_fiscal = r.code().to_owned();
                    form.step = Step::Uso;
                    (Then::Save, vec![Ask::Uso { regimen: r, tipo: t }])
                }
                (Ok(r), _) => (
                    Then::Keep,
                    vec![
                        Ask::Text(format!(
                            "El régimen {} ({}) no corresponde a tu tipo de RFC. Elige uno de la lista.",
                            r.code(),
                            r.descripcion()
                        )),
                        Ask::Regimen,
                    ],
                ),
                (Err(e), _) => (Then::Keep, vec![Ask::Text(e.message), Ask::Regimen]),
            }
        }
        Step::Uso => {
            let code = answer.strip_prefix("uso:").unwrap_or(answer).to_uppercase();
            match UsoCfdi::parse(&code) {
                Ok(uso) => {
                    let mut with = form.clone();
                    with.uso_cfdi = uso.code().to_owned();
                    let problems = with.fiscal().problems();
                    if let Some(p) = problems.iter().find(|p| p.field.contains("uso")) {
                        let mut asks = vec![Ask::Text(p.reason.clone())];
                        if let (Ok(r), Ok(rfc)) = (
                            RegimenFiscal::parse(&form.regimen_fiscal),
                            Rfc::parse(&form.rfc),
                        ) {
                            asks.push(Ask::Uso {
                                regimen: r,
                                tipo: rfc.tipo(),
                            });
                        }
                        // The uso stays as the customer gave it until they choose one that fits.
                        form.uso_cfdi = with.uso_cfdi;
                        return (Then::Keep, asks);
                    }
                    *form = with;
                    form.step = Step::Confirm;
                    (Then::Save, vec![Ask::Confirm])
                }
                Err(e) => (Then::Keep, vec![Ask::Text(e.message)]),
            }
        }
        Step::Pais => match mostrador_cfdi::Pais::parse(answer) {
            Ok(p) if p == mostrador_cfdi::Pais::MEXICO => (
                Then::Keep,
                vec![text("Si resides en México para efectos fiscales, factura con tu RFC: escribe *cancelar* y pide la factura de nuevo con él. Si no, escribe tu país.")],
            ),
            Ok(p) => {
                form.residencia_fiscal = Some(p.code().to_owned());
                form.step = Step::NumRegIdTrib;
                (
                    Then::Save,
                    vec![Ask::Text(format!(
                        "4/4 ¿Cuál es tu número de identificación fiscal en {}? Si no lo tienes a la mano, escribe *no tengo*.",
                        p.nombre()
                    ))],
                )
            }
            Err(e) => (Then::Keep, vec![Ask::Text(e.message)]),
        },
        Step::NumRegIdTrib => {
            let folded = mostrador_core::text::fold_text(answer);
            form.num_reg_id_trib = if matches!(
                folded.as_str(),
                "no tengo" | "no" | "no lo tengo" | "no se" | "ninguno" | "sin numero" | "omitir"
            ) {
                None
            } else {
                Some(answer.trim().to_owned())
            };
            let problems = form.fiscal().problems();
            if let Some(p) = problems.iter().find(|p| p.field.contains("num_reg")) {
                form.num_reg_id_trib = None;
                return (
                    Then::Keep,
                    vec![Ask::Text(format!(
                        "{} Escríbelo de nuevo o escribe *no tengo*.",
                        p.reason
                    ))],
                );
            }
            form.step = Step::Confirm;
            (Then::Save, vec![Ask::Confirm])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(form: &mut Form, answers: &[&str]) -> Vec<(Then, Vec<Ask>)> {
        answers.iter().map(|a| answer(form, a)).collect()
    }

    fn texts(asks: &[Ask]) -> String {
        asks.iter()
            .map(|a| match a {
                Ask::Text(t) => t.clone(),
                other => format!("{other:?}"),
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    #[test]
    fn a_persona_fisica_gives_rfc_name_postal_code_regimen_and_uso_then_confirms() {
        let mut form = Form {
            order_id: "o1".into(),
            ..Form::default()
        };
        let steps = walk(
            &mut form,
            &[
                "gode561231gr8",
                "Emilio González Durán",
                "06700",
                "reg:612",
                "uso:G03",
            ],
        );
        assert!(
            steps.iter().all(|(then, _)| *then == Then::Save),
            "{steps:?}"
        );
        assert!(texts(&steps[0].1).starts_with("2/5"));
        assert!(texts(&steps[1].1).starts_with("3/5"));
        assert_eq!(steps[2].1, vec![Ask::Regimen]);
        assert!(matches!(
            steps[3].1[..],
            [Ask::Uso {
                tipo: TipoPersona::Fisica,
                ..
            }]
        ));
        assert_eq!(steps[4].1, vec![Ask::Confirm]);
        assert_eq!(form.step, Step::Confirm);
        assert_eq!(
            (
                form.rfc.as_str(),
                form.codigo_postal.as_str(),
                form.regimen_fiscal.as_str(),
                form.uso_cfdi.as_str()
            ),
            ("GODE561231GR8", "06700", "612", "G03")
        );
        assert_eq!(form.order_id, "o1");
        assert_eq!(answer(&mut form, "fac:ok"), (Then::Finish, vec![]));
    }

    #[test]
    fn a_wrong_answer_is_asked_again_and_changes_nothing() {
        let mut form = Form::default();
        let (then, asks) = answer(&mut form, "no sé mi rfc");
        assert_eq!(then, Then::Keep);
        assert!(
            texts(&asks).ends_with("Escríbelo de nuevo, por favor."),
            "{asks:?}"
        );
        assert_eq!(form, Form::default());
        walk(&mut form, &["GODE561231GR8", "Emilio González Durán"]);
        let (then, asks) = answer(&mut form, "6700");
        assert_eq!((then, form.step.clone()), (Then::Keep, Step::CodigoPostal));
        assert!(!asks.is_empty());
    }

    #[test]
    fn a_regimen_of_the_other_kind_of_person_is_refused_with_the_list_again() {
        let mut form = Form::default();
        walk(
            &mut form,
            &["GODE561231GR8", "Emilio González Durán", "06700"],
        );
        // 601 (General de Ley Personas Morales) is not a persona física's.
        let (then, asks) = answer(&mut form, "reg:601");
        assert_eq!(then, Then::Keep);
        assert!(
            texts(&asks).contains("no corresponde a tu tipo de RFC"),
            "{asks:?}"
        );
        assert_eq!(asks.last(), Some(&Ask::Regimen));
        assert_eq!(form.step, Step::Regimen);
    }

    #[test]
    fn a_customer_without_rfc_goes_straight_to_confirm_and_one_from_abroad_gives_country_and_tax_number(
    ) {
        let mut form = Form::default();
        let steps = walk(&mut form, &["XAXX010101000", "Público en general"]);
        assert_eq!(steps[1].1, vec![Ask::Confirm]);
        assert_eq!(
            (form.regimen_fiscal.as_str(), form.uso_cfdi.as_str()),
            ("616", "S01")
        );

        let mut form = Form::default();
        let steps = walk(&mut form, &["XEXX010101000", "John Smith"]);
        assert!(texts(&steps[1].1).starts_with("3/4"));
        let (then, asks) = answer(&mut form, "México");
        assert_eq!(then, Then::Keep);
        assert!(texts(&asks).contains("factura con tu RFC"));
        let (_, asks) = answer(&mut form, "USA");
        assert!(texts(&asks).starts_with("4/4"), "{asks:?}");
        assert_eq!(form.residencia_fiscal.as_deref(), Some("USA"));
        let (then, asks) = answer(&mut form, "no tengo");
        assert_eq!((then, asks), (Then::Save, vec![Ask::Confirm]));
        assert_eq!(form.num_reg_id_trib, None);
    }

    #[test]
    fn correcting_starts_over_for_the_same_order() {
        let mut form = Form {
            order_id: "o9".into(),
            ..Form::default()
        };
        walk(&mut form, &["XAXX010101000", "Público en general"]);
        let (then, asks) = answer(&mut form, "fac:cambiar");
        assert_eq!(then, Then::Save);
        assert!(texts(&asks).contains("1/5"));
        assert_eq!(
            form,
            Form {
                order_id: "o9".into(),
                ..Form::default()
            }
        );
        // Stored data offered: anything but the two buttons asks again.
        form.step = Step::Reuse;
        let (then, asks) = answer(&mut form, "hola");
        assert_eq!(then, Then::Keep);
        assert!(texts(&asks).contains("Cambiar datos"));
        assert_eq!(answer(&mut form, "fac:ok").0, Then::Finish);
    }
}
