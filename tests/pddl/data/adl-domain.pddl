; A courier van: ADL conditions (or, imply, exists, forall) and effects (forall, when).
(define (domain courier-adl)
  (:requirements :typing :adl)
  (:types place parcel)
  (:predicates (van-at ?p - place) (at ?x - parcel ?p - place) (in ?x - parcel)
               (road ?a ?b - place) (dest ?x - parcel ?p - place) (delivered ?x - parcel)
               (fragile ?x - parcel) (padded ?p - place))
  ; Roads run both ways; the van leaves no parcel behind that still has to travel.
  (:action drive
    :parameters (?from ?to - place)
    :precondition (and (van-at ?from) (or (road ?from ?to) (road ?to ?from))
                       (forall (?x - parcel)
                         (imply (at ?x ?from) (or (delivered ?x) (dest ?x ?from)))))
    :effect (and (not (van-at ?from)) (van-at ?to)))
  ; Loads every parcel here that is not yet delivered.
  (:action load-all
    :parameters (?p - place)
    :precondition (and (van-at ?p) (exists (?x - parcel) (and (at ?x ?p) (not (delivered ?x)))))
    :effect (forall (?x - parcel)
              (when (and (at ?x ?p) (not (delivered ?x))) (and (in ?x) (not (at ?x ?p))))))
  ; Fragile parcels need a padded place; a parcel unloaded at its destination is delivered.
  (:action unload
    :parameters (?x - parcel ?p - place)
    :precondition (and (van-at ?p) (in ?x) (imply (fragile ?x) (padded ?p)))
    :effect (and (not (in ?x)) (at ?x ?p) (when (dest ?x ?p) (delivered ?x)))))
