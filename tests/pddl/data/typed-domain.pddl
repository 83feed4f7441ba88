; A small typed domain exercising what the parser supports: a type hierarchy, `either`,
; constants, negative preconditions, equality and action costs.
(define (domain depot-mini)
  (:requirements :strips :typing :negative-preconditions :equality :action-costs)
  (:types place vehicle - object
          truck plane - vehicle
          crate - object)
  (:constants depot - place)
  (:predicates (at ?v - (either vehicle crate) ?p - place)
               (in ?c - crate ?v - vehicle)
               (road ?a ?b - place)
               (broken ?v - vehicle))
  (:functions (total-cost) - number
              (distance ?a ?b - place) - number)
  (:action drive
    :parameters (?v - truck ?from ?to - place)
    :precondition (and (at ?v ?from) (road ?from ?to) (not (broken ?v)) (not (= ?from ?to)))
    :effect (and (not (at ?v ?from)) (at ?v ?to) (increase (total-cost) (distance ?from ?to))))
  (:action load
    :parameters (?c - crate ?v - vehicle ?p - place)
    :precondition (and (at ?c ?p) (at ?v ?p))
    :effect (and (not (at ?c ?p)) (in ?c ?v) (increase (total-cost) 1)))
  (:action unload-at-depot
    :parameters (?c - crate ?v - vehicle)
    :precondition (and (in ?c ?v) (at ?v depot))
    :effect (and (not (in ?c ?v)) (at ?c depot) (increase (total-cost) 2))))
